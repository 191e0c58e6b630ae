// Tasks that wait for a person, of every review kind, for the operator tests.
//
// Until the loop's own SQL function that pauses a running task for a person (approval, question,
// interrupted call; engineer h19a) is on main, a test makes such a review the way that function will
// leave it: as `postgres`, the task claimed and then moved running -> needs_human_review with an UPDATE
// of status (the guard checks the move and writes its history), and one open human_reviews row of the
// kind with its request. Failures go through the real fail_task.
import type { Sql } from '../../helpers/database.ts';
import { claim, createFanOut, failToReview, type TaskRow } from '../../helpers/tasks.ts';

export type Kind = 'failure' | 'approval' | 'question' | 'interrupted_call';

export async function waitForPerson(
  sql: Sql,
  taskId: string,
  kind: Kind,
  request: Record<string, unknown> = {},
  options: { alreadyRunning?: boolean; error?: Record<string, unknown> } = {},
): Promise<string> {
  if (kind === 'failure') {
    if (options.alreadyRunning) {
      await sql`select taskweave.fail_task(${taskId}, (select leased_by from taskweave.tasks where id = ${taskId}),
                  ${sql.json((options.error ?? { category: 'model', message: 'provider said 500' }) as never)}, false)`;
      const [review] = await sql<{ id: string }[]>`select id from taskweave.human_reviews where task_id = ${taskId} and status = 'open'`;
      return review.id;
    }
    return failToReview(sql, taskId, options.error);
  }
  if (!options.alreadyRunning) await claim(sql, taskId, 'worker-pause');
  const [review] = (await sql.begin(async (tx) => {
    await tx`update taskweave.tasks set status = 'needs_human_review' where id = ${taskId}`;
    return tx<{ id: string }[]>`
      insert into taskweave.human_reviews (task_id, kind, request) values (${taskId}, ${kind}, ${tx.json(request as never)}) returning id`;
  })) as unknown as { id: string }[];
  return review.id;
}

/** A root with n parallel children (and their aggregator), each waiting for approval of one tool call. */
export async function openApprovalsForChildren(sql: Sql, n: number, request: (i: number) => Record<string, unknown> = (i) => ({
  tool_call_id: `call-${i}`,
  tool: 'send_email',
  arguments: { to: `person${i}@example.com` },
  reason: `tell person ${i}`,
})): Promise<{ root: TaskRow; children: TaskRow[]; aggregator: TaskRow; reviewIds: string[] }> {
  const { root, children, aggregator } = await createFanOut(sql, n, 'approvals');
  const reviewIds: string[] = [];
  for (const [i, child] of children.entries()) reviewIds.push(await waitForPerson(sql, child.id, 'approval', request(i)));
  return { root, children, aggregator, reviewIds };
}
