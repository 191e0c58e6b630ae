// process-task's claim mode runs its tasks in lanes against the real SQL API: a lane takes its next task
// from the completion of the last (complete_and_claim), a lane whose claim fails does not take the others'
// work down with it, and a task claimed by id that has to be escalated answers with where it went.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { createHandler } from '../../supabase/functions/process-task/http-handler.ts';
import { processDueTasks, processTaskById } from '../../supabase/functions/process-task/processor.ts';
import { createChild, createRoot, harness, say } from './loop-support.ts';

const db = useTestDatabase({ settings: { max_running: 0 } });

/** Nothing else may be due when a test starts: earlier tests' leftovers wait a day. */
async function onlyTheseDue() {
  await db.sql`update taskweave.tasks set run_after = now() + interval '1 day' where status = 'pending'`;
}

describe('lanes (max_tasks mode)', () => {
  it('hands each lane its next task with the completion of the last one, and lists every task that ran', async () => {
    await onlyTheseDue();
    const { deps, store } = harness(db.sql, () => say('ok'), { concurrency: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await createRoot(db.sql, `due ${i}`)).id);
    const results = await processDueTasks(5, deps);
    expect(results).toHaveLength(5);
    expect(results.every((r) => r.status === 'completed' && r.outcome === 'completed')).toBe(true);
    const calls = store.calls.map((c) => c.fn);
    // two lanes start with a claim each; every later task came with a completion
    expect(calls.filter((fn) => fn === 'claimTasks')).toHaveLength(2);
    expect(calls.filter((fn) => fn === 'completeAndClaim')).toHaveLength(3);
    expect(calls.filter((fn) => fn === 'complete')).toHaveLength(2);
    const done = await db.sql`select id from taskweave.tasks where id in ${db.sql(ids)} and status = 'completed'`;
    expect(done).toHaveLength(5);
    // the sixth was never claimed: max_tasks bounds what the completions claim too
    const [left] = await db.sql`select status, attempt from taskweave.tasks where id = ${ids[5]}`;
    expect(left).toEqual({ status: 'pending', attempt: 0 });
  });

  it('keeps running the other lanes when one lane\'s claim fails, and answers with every task that ran', async () => {
    await onlyTheseDue();
    // the second lane's worker name is one claim_tasks refuses (22023): a real error from the real SQL API
    const workers = ['lane-ok', 'x'.repeat(201)];
    const { deps } = harness(db.sql, () => say('ok'), { concurrency: 2 });
    deps.newWorkerId = () => workers.shift() ?? 'lane-late';
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await createRoot(db.sql, `work ${i}`)).id);
    const results = await processDueTasks(3, deps);
    expect(results.map((r) => r.task_id).sort()).toEqual([...ids].sort());
    expect(results.every((r) => r.outcome === 'completed')).toBe(true);
    const rows = await db.sql`select status, leased_by from taskweave.tasks where id in ${db.sql(ids)}`;
    expect(rows.every((r) => r.status === 'completed')).toBe(true);
  });

  it('answers with the error only when no lane ran anything', async () => {
    await onlyTheseDue();
    await createRoot(db.sql, 'unreachable');
    const { deps } = harness(db.sql, () => say('ok'), { concurrency: 2 });
    deps.newWorkerId = () => '';
    await expect(processDueTasks(2, deps)).rejects.toMatchObject({ code: '22023' });
  });
});

describe('{"task_id"} of a task whose last worker died on its last attempt', () => {
  it('escalates it for good and answers 200 with the task in review, not a 409', async () => {
    await onlyTheseDue();
    const root = await createRoot(db.sql, 'parent');
    const childId = await createChild(db.sql, root.id, 'fragile');
    await db.sql`update taskweave.tasks set max_attempts = 1 where id = ${childId}`;
    await db.sql`select taskweave.claim_task(${childId}, 'dead-worker', 60)`;
    await db.sql`update taskweave.tasks set lease_expires_at = now() - interval '1 second' where id = ${childId}`;
    const { deps, prompts } = harness(db.sql, () => say('never asked'));
    const handle = createHandler({ secrets: ['key'], agent: deps });
    const response = await handle(
      new Request('http://localhost/functions/v1/process-task', {
        method: 'POST',
        headers: { Authorization: 'Bearer key', 'Content-Type': 'application/json' },
        body: JSON.stringify({ task_id: childId }),
      }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      results: [{ task_id: childId, status: 'needs_human_review', outcome: 'needs_human_review', attempt: 1, steps: 0 }],
    });
    expect(prompts).toHaveLength(0);
    const [task] = await db.sql`select status, leased_by from taskweave.tasks where id = ${childId}`;
    expect(task).toEqual({ status: 'needs_human_review', leased_by: null });
    expect(await db.sql`select status from taskweave.human_reviews where task_id = ${childId}`).toEqual([{ status: 'open' }]);
    // and the next call by id is a plain "not claimable"
    await expect(processTaskById(childId, deps)).rejects.toMatchObject({ code: '55000' });
  });
});
