// Run control through the real function under Deno, driven over HTTP, with a local OpenAI-protocol
// server that reports token usage and can answer 429: each run limit stops the run before the model
// is asked again and an operator can raise it and retry; a cancel stops a running task with no model
// request after it commits; a model slower than the budget escalates after SQL's bound on releases;
// a provider's 429s never use an attempt and never open a review.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, operator, serviceRole, setSettings, useTestDatabase } from '../helpers/database.ts';
import { rateLimited, startFakeOpenAI, taskOf, toolResultsOf, type ChatRequest, type FakeOpenAI, type ScriptedReply } from './fake-openai-server.ts';
import { post, startFunction, waitFor } from './support.ts';

const db = useTestDatabase();
let fake: FakeOpenAI;
/** the function with a budget that no test reaches */
let fn: Awaited<ReturnType<typeof startFunction>>;
/** the function with a 1.5 s budget: for the slow model and the long 429 */
let short: Awaited<ReturnType<typeof startFunction>>;
const MAX_IDLE_RELEASES = 2;
const STEP_USAGE = { prompt_tokens: 30, completion_tokens: 10 };

type Plan =
  | { plan: 'fan-out'; children: Plan[] } // step 1: one create_parallel_task per child; step 2: answer
  | { plan: 'answer' }
  | { plan: 'tool-then-answer' } // step 1: an unknown tool (a wasted step); step 2: answer
  | { plan: 'slow'; ms: number } // every step answers (a tool call) after `ms`
  | { plan: '429-then-answer'; times: number; retry_after: number }
  | { plan: 'always-429'; retry_after: number };

const requestsOf = (taskId: string) => fake.requests.filter((r) => taskOf(r).id === taskId);
const stepsSoFar = (req: ChatRequest) => req.messages.filter((m) => m.role === 'assistant').length;

function reply(req: ChatRequest): ScriptedReply {
  const task = taskOf(req);
  const plan = task.input as unknown as Plan;
  const seen = requestsOf(task.id).length; // this request included
  switch (plan.plan) {
    case 'fan-out':
      if (stepsSoFar(req) === 0) {
        return {
          usage: STEP_USAGE,
          tool_calls: plan.children.map((child, i) => ({ id: `call_child_${i}`, name: 'create_parallel_task', arguments: { title: `Child ${i}`, instructions: 'Do the part.', input: child } })),
        };
      }
      return { usage: STEP_USAGE, content: `Started ${toolResultsOf(req).length} children.` };
    case 'tool-then-answer':
      return stepsSoFar(req) === 0 ? { usage: STEP_USAGE, tool_calls: [{ id: 'call_look', name: 'look_around', arguments: {} }] } : { usage: STEP_USAGE, content: 'Answered.' };
    case 'slow':
      return { delayMs: plan.ms, usage: STEP_USAGE, tool_calls: [{ id: `call_slow_${seen}`, name: 'look_around', arguments: {} }] };
    case '429-then-answer':
      return seen <= plan.times ? rateLimited(plan.retry_after) : { usage: STEP_USAGE, content: 'Answered after waiting.' };
    case 'always-429':
      return rateLimited(plan.retry_after);
    default:
      return { usage: STEP_USAGE, content: 'Answered.' };
  }
}

beforeAll(async () => {
  await setSettings(db.sql, { max_idle_releases: MAX_IDLE_RELEASES });
  fake = await startFakeOpenAI(reply);
  const env = {
    LLM_PROVIDER: 'openai',
    LLM_MODEL: 'fake-gpt',
    OPENAI_BASE_URL: fake.baseURL,
    OPENAI_API_KEY: 'sk-test',
    PROCESS_TASK_MODEL_MAX_RETRIES: '0', // an ordinary retry would use the attempt up at once
    PROCESS_TASK_HEARTBEAT_MS: '200',
  };
  [fn, short] = await Promise.all([
    startFunction(db.url, env),
    startFunction(db.url, { ...env, PROCESS_TASK_BUDGET_MS: '1500', PROCESS_TASK_MIN_STEP_MS: '100' }),
  ]);
});

afterAll(async () => {
  await Promise.all([fn?.stop(), short?.stop()]);
  await fake?.close();
});

async function createRun(plan: Plan, limits: Record<string, unknown> = {}): Promise<string> {
  const [row] = await db.sql`select id from taskweave.create_task('Run', 'Follow the plan.', ${db.sql.json(plan as never)}, ${db.sql.json(limits as never)})`;
  return row.id as string;
}

async function run(server: { url: string; secret: string }, taskId: string) {
  const res = await post(server, { task_id: taskId });
  expect(res.status, res.text).toBe(200);
  return res.json.results[0] as { task_id: string; status: string; outcome: string; attempt: number; error?: { category: string; message: string } };
}

const task = async (id: string) => (await db.sql`select * from taskweave.tasks where id = ${id}`)[0];
const childrenOf = async (id: string) => (await db.sql`select id from taskweave.tasks where parent_task_id = ${id} order by tool_call_id`).map((r) => r.id as string);
const asOperator = <T>(fn: Parameters<typeof asIdentity<T>>[2]) => asIdentity(db.sql, operator(), fn);

/** An operator raises the run's limits and retries the task from its review. */
async function raiseAndRetry(rootId: string, taskId: string, limits: Record<string, unknown>) {
  await asOperator((tx) => tx`select taskweave.set_run_limits(${rootId}, ${db.sql.json(limits as never)})`);
  const [review] = await db.sql`select id from taskweave.human_reviews where task_id = ${taskId} and status = 'open'`;
  await asOperator((tx) => tx`select taskweave.resolve_review(${review.id}, 'retry', null, 'limit raised')`);
}

/** The task stopped at a limit: category budget, in review, and the model was not asked again. */
async function expectBudgetStop(result: Awaited<ReturnType<typeof run>>, taskId: string, requestsBefore: number) {
  expect(result).toMatchObject({ status: 'needs_human_review', outcome: 'needs_human_review', error: { category: 'budget' } });
  expect(fake.requests.length).toBe(requestsBefore);
  const [review] = await db.sql`select error from taskweave.human_reviews where task_id = ${taskId} and status = 'open'`;
  expect(review.error.category).toBe('budget');
  expect((await task(taskId)).last_error.category).toBe('budget');
}

describe('run limits through the real function', () => {
  it('max_tokens: the step that would pass the budget is not started; raised and retried, the task goes on', async () => {
    const root = await createRun({ plan: 'fan-out', children: [{ plan: 'answer' }] }, { max_tokens: 60 });
    expect(await run(fn, root)).toMatchObject({ status: 'completed' });
    // every step's usage is saved with it and summed on the task and the run
    expect((await task(root)).usage).toMatchObject({ input_tokens: 60, output_tokens: 20 });
    const steps = await db.sql`select usage from taskweave.task_messages where task_id = ${root} and role = 'assistant' order by seq`;
    expect(steps.map((s) => s.usage)).toEqual([{ input_tokens: 30, output_tokens: 10 }, { input_tokens: 30, output_tokens: 10 }]);
    const [runRow] = await db.sql`select input_tokens, output_tokens, task_count from taskweave.runs where root_task_id = ${root}`;
    expect(runRow).toMatchObject({ input_tokens: '60', output_tokens: '20', task_count: 2 });

    const [child] = await childrenOf(root);
    const before = fake.requests.length;
    await expectBudgetStop(await run(fn, child), child, before);

    await raiseAndRetry(root, child, { max_tokens: 10_000 });
    expect(await run(fn, child)).toMatchObject({ status: 'completed', outcome: 'completed' });
    expect(fake.requests.length).toBe(before + 1);
  });

  it('deadline_seconds: after the deadline no model step starts; raised and retried, the task goes on', async () => {
    const root = await createRun({ plan: 'fan-out', children: [{ plan: 'answer' }] }, { deadline_seconds: 2 });
    expect(await run(fn, root)).toMatchObject({ status: 'completed' });
    const [child] = await childrenOf(root);
    await waitFor('the run deadline to pass', async () => (await db.sql`select deadline_at <= now() as passed from taskweave.runs where root_task_id = ${root}`)[0].passed, 5_000, 100);
    const before = fake.requests.length;
    await expectBudgetStop(await run(fn, child), child, before);

    await raiseAndRetry(root, child, { deadline_seconds: 3_600 });
    expect(await run(fn, child)).toMatchObject({ status: 'completed', outcome: 'completed' });
  });

  it('max_tasks: the create past the limit makes nothing and stops its task with a budget stop; raised and retried, it goes on', async () => {
    const root = await createRun(
      { plan: 'fan-out', children: [{ plan: 'fan-out', children: [{ plan: 'answer' }, { plan: 'answer' }] }, { plan: 'answer' }] },
      { max_tasks: 3 },
    );
    // the root makes both children (the run's three tasks) and answers
    expect(await run(fn, root)).toMatchObject({ status: 'completed' });
    const [first] = await childrenOf(root);
    // the first child's first create would be the run's fourth task: nothing is made, no model request follows
    const before = fake.requests.length;
    const stopped = await run(fn, first);
    expect(fake.requests.length).toBe(before + 1); // the step that asked for the creates, none after
    expect(stopped).toMatchObject({ status: 'needs_human_review', error: { category: 'budget' } });
    expect((await task(first)).last_error.message).toMatch(/run limit reached: the run has 3 tasks, its max_tasks = 3/);
    expect(await childrenOf(first)).toHaveLength(0);
    const [runRow] = await db.sql`select task_count from taskweave.runs where root_task_id = ${root}`;
    expect(runRow.task_count).toBe(3);
    // the refused calls were left unanswered, so a Retry after raising the limit makes them
    const tools = await db.sql`select count(*)::int as n from taskweave.task_messages where task_id = ${first} and role = 'tool'`;
    expect(tools[0].n).toBe(0);

    await raiseAndRetry(root, first, { max_tasks: 10 });
    expect(await run(fn, first)).toMatchObject({ status: 'completed', outcome: 'completed' });
    expect(await childrenOf(first)).toHaveLength(2);
  });
});

describe('cancel through the real function', () => {
  it('stops a running task: no model request after the cancel commits', async () => {
    const root = await createRun({ plan: 'slow', ms: 1_500 });
    const pending = run(fn, root);
    await waitFor('the first model request', async () => requestsOf(root).length === 1, 10_000, 20);
    await asIdentity(db.sql, serviceRole, (tx) => tx`select taskweave.cancel_task(${root}, 'operator stopped the run')`);
    const cancelledAt = Date.now();
    const result = await pending;
    expect(result).toMatchObject({ task_id: root, status: 'cancelled', outcome: 'cancelled' });
    await new Promise((r) => setTimeout(r, 1_000)); // anything late would have arrived by now
    expect(requestsOf(root)).toHaveLength(1);
    expect(fake.arrivals.filter((t, i) => t >= cancelledAt && taskOf(fake.requests[i]).id === root)).toEqual([]);
    expect((await task(root)).status).toBe('cancelled');
    // the answer that came back after the cancel was not saved
    const roles = await db.sql`select role from taskweave.task_messages where task_id = ${root} order by seq`;
    expect(roles.map((r) => r.role)).toEqual(['system', 'user']);
  });
});

describe('a model slower than the budget', () => {
  it('is released while it makes no progress, then escalates after the bound with category timeout', async () => {
    const root = await createRun({ plan: 'slow', ms: 5_000 });
    const outcomes: Awaited<ReturnType<typeof run>>[] = [];
    for (let i = 0; i < MAX_IDLE_RELEASES + 3; i++) {
      const result = await run(short, root);
      outcomes.push(result);
      if (result.outcome !== 'released') break;
    }
    expect(outcomes.slice(0, -1).every((o) => o.outcome === 'released' && o.status === 'pending')).toBe(true);
    expect(outcomes.length).toBeLessThanOrEqual(MAX_IDLE_RELEASES + 1);
    expect(outcomes.at(-1)).toMatchObject({ status: 'failed', outcome: 'failed', error: { category: 'timeout' } });
    const t = await task(root);
    expect(t.status).toBe('failed');
    expect(t.last_error.category).toBe('timeout');
    expect(t.attempt).toBeLessThanOrEqual(1); // releases used no attempt
  });
});

describe("a provider's 429", () => {
  it('waits for Retry-After and asks again without using an attempt', async () => {
    const root = await createRun({ plan: 'fan-out', children: [{ plan: '429-then-answer', times: 2, retry_after: 1 }] });
    await run(fn, root);
    const [child] = await childrenOf(root);
    const result = await run(fn, child);
    expect(result).toMatchObject({ status: 'completed', outcome: 'completed', attempt: 1 });
    expect(requestsOf(child)).toHaveLength(3);
    const times = fake.arrivals.filter((_, i) => taskOf(fake.requests[i]).id === child);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(950); // Retry-After: 1 was honoured
    const events = await db.sql`select to_status from taskweave.task_events where task_id = ${child} and to_status is not null order by id`;
    expect(events.map((e) => e.to_status)).toEqual(['pending', 'running', 'completed']);
    expect(await db.sql`select id from taskweave.human_reviews where task_id = ${child}`).toHaveLength(0);
  });

  it('a string of 429s longer than the budget releases with the delay, never uses an attempt and never opens a review', async () => {
    const root = await createRun({ plan: 'fan-out', children: [{ plan: 'always-429', retry_after: 1 }] });
    await run(fn, root);
    const [child] = await childrenOf(root);
    for (let i = 0; i < MAX_IDLE_RELEASES + 2; i++) {
      await waitFor('the task to be due', async () => (await db.sql`select run_after <= now() as due from taskweave.tasks where id = ${child}`)[0].due, 5_000, 50);
      const result = await run(short, child);
      expect(result).toMatchObject({ status: 'pending', outcome: 'released' });
      const [t] = await db.sql`select attempt, run_after > now() as later from taskweave.tasks where id = ${child}`;
      expect(t).toEqual({ attempt: 0, later: true }); // released with the provider's delay, no attempt used
    }
    expect(requestsOf(child).length).toBeGreaterThanOrEqual(MAX_IDLE_RELEASES + 2);
    expect(await db.sql`select id from taskweave.human_reviews where task_id = ${child}`).toHaveLength(0);
    const statuses = await db.sql`select distinct to_status from taskweave.task_events where task_id = ${child} and to_status is not null`;
    expect(statuses.map((s) => s.to_status).sort()).toEqual(['pending', 'running']);
  });
});
