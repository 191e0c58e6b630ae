// Cost in dollars (model_prices -> tasks.usage.cost_usd and runs.cost_usd), max_cost_usd, a model step
// whose prompt would pass the budget, and numbers in limits and usage that are 22023 naming the key
// (audit finding 6: they were 22P02, 22003 or 0A000).
import { describe, expect, it } from 'vitest';
import { useTestDatabase, type Sql } from '../helpers/database.ts';
import { claim, createParallel, rejection } from '../helpers/tasks.ts';

const db = useTestDatabase();

async function runningRoot(limits: string, worker = 'w1') {
  const [root] = await db.sql<{ id: string }[]>`select * from taskweave.create_task('costly', 'i', '{}', ${limits}::text::jsonb)`;
  await claim(db.sql, root.id, worker);
  return root.id;
}
const append = (sql: Sql, taskId: string, usage: string | null, model: string | null, worker = 'w1') =>
  sql<{ usage: Record<string, unknown> | null }[]>`
    select * from taskweave.append_task_message(${taskId}, ${worker}, 'assistant', '"step"', ${usage}::text::jsonb, ${model})`;
const beginStep = (taskId: string, model: string, promptTokens: number | null = null, worker = 'w1') =>
  db.sql`select taskweave.begin_model_step(${taskId}, ${worker}, ${model}, ${promptTokens}::bigint) as step`;
const run = async (rootId: string) =>
  (await db.sql<{ cost_usd: string; max_cost_usd: string | null; input_tokens: number; output_tokens: number }[]>`
    select cost_usd::text, max_cost_usd::text, input_tokens::int, output_tokens::int from taskweave.runs where root_task_id = ${rootId}`)[0];
const taskUsage = async (id: string) =>
  (await db.sql<{ usage: Record<string, number> }[]>`select usage from taskweave.tasks where id = ${id}`)[0].usage;

describe('numbers in limits and usage', () => {
  it.each([
    ['{"max_tasks": 1.0}', 'p_limits.max_tasks'],
    ['{"max_tokens": 1.5}', 'p_limits.max_tokens'],
    ['{"max_tokens": "abc"}', 'p_limits.max_tokens'],
    ['{"deadline_seconds": 1e30}', 'p_limits.deadline_seconds'],
    ['{"deadline_seconds": 1e-30}', 'p_limits.deadline_seconds'],
    ['{"max_tasks": -1}', 'p_limits.max_tasks'],
    ['{"max_cost_usd": "5"}', 'p_limits.max_cost_usd'],
    ['{"max_cost_usd": 0}', 'p_limits.max_cost_usd'],
    ['{"max_cost_usd": 1e30}', 'p_limits.max_cost_usd'],
  ])('create_task and set_run_limits refuse %s with 22023 naming %s', async (limits, key) => {
    const created = await rejection(db.sql`select taskweave.create_task('t', 'i', '{}', ${limits}::text::jsonb)`);
    expect(created.code).toBe('22023');
    expect(created.message.startsWith(`${key} must be`)).toBe(true);
    const [root] = await db.sql<{ id: string }[]>`select * from taskweave.create_task('t', 'i')`;
    const before = await run(root.id);
    const changed = await rejection(db.sql`select taskweave.set_run_limits(${root.id}, ${limits}::text::jsonb)`);
    expect(changed.code).toBe('22023');
    expect(changed.message.startsWith(`${key} must be`)).toBe(true);
    expect(await run(root.id)).toEqual(before);
  });

  it.each([
    ['{"input_tokens": 1.5}', 'p_usage.input_tokens'],
    ['{"input_tokens": 1.0}', 'p_usage.input_tokens'],
    ['{"output_tokens": "abc"}', 'p_usage.output_tokens'],
    ['{"output_tokens": 1e30}', 'p_usage.output_tokens'],
    ['{"input_tokens": -3}', 'p_usage.input_tokens'],
    ['{"tokens": 3}', 'p_usage'],
  ])('append_task_message refuses usage %s with 22023 naming %s, appending nothing', async (usage, key) => {
    const task = await runningRoot('{}');
    const error = await rejection(append(db.sql, task, usage, 'demo:demo-planner-1'));
    expect(error.code).toBe('22023');
    expect(error.message.startsWith(`${key} `)).toBe(true);
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.task_messages where task_id = ${task}`;
    expect(n).toBe(0);
  });

  it('append_task_message refuses content over 4 MiB with 22023, appending nothing', async () => {
    const task = await runningRoot('{}');
    const error = await rejection(db.sql`select taskweave.append_task_message(${task}, 'w1', 'user', to_jsonb(repeat('x', 4194305)))`);
    expect(error).toMatchObject({ code: '22023', message: 'p_content must be at most 4194304 bytes as JSON (got 4194307)' });
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.task_messages where task_id = ${task}`;
    expect(n).toBe(0);
  });

  it('whole numbers and a fractional max_cost_usd are taken as given', async () => {
    const [root] = await db.sql<{ id: string }[]>`
      select * from taskweave.create_task('t', 'i', '{}', '{"max_tasks": 7, "max_tokens": 5000, "deadline_seconds": 60, "max_cost_usd": 0.25}')`;
    const [row] = await db.sql`select max_tasks, max_tokens::int, max_cost_usd::text from taskweave.runs where root_task_id = ${root.id}`;
    expect(row).toEqual({ max_tasks: 7, max_tokens: 5000, max_cost_usd: '0.25' });
    await db.sql`select taskweave.set_run_limits(${root.id}, '{"max_cost_usd": null, "max_tasks": 9}')`;
    const [after] = await db.sql`select max_tasks, max_cost_usd from taskweave.runs where root_task_id = ${root.id}`;
    expect(after).toEqual({ max_tasks: 9, max_cost_usd: null });
  });
});

describe('cost in dollars', () => {
  it('prices each step by its model and sums it into the task and the run; the message records model and cost', async () => {
    await db.sql`select taskweave.set_model_price('openai:gpt-4.1-mini', 0.4, 1.6)`;
    await db.sql`select taskweave.set_model_price('demo-planner-1', 1, 2)`;
    const root = await runningRoot('{}');
    expect(await taskUsage(root)).toEqual({ input_tokens: 0, output_tokens: 0, model_steps: 0, cost_usd: 0 });
    const [step] = await append(db.sql, root, '{"input_tokens": 1000, "output_tokens": 500}', 'openai:gpt-4.1-mini');
    expect(step.usage).toEqual({ input_tokens: 1000, output_tokens: 500, model: 'openai:gpt-4.1-mini', cost_usd: 0.0012 });
    // the environment's model name and the provider-prefixed one find the same price
    const [envStep] = await append(db.sql, root, '{"input_tokens": 1000000, "output_tokens": 0}', 'demo:demo-planner-1');
    expect(envStep.usage?.cost_usd).toBe(1);
    const [unpriced] = await append(db.sql, root, '{"input_tokens": 10, "output_tokens": 10}', 'anthropic:claude-x');
    expect(unpriced.usage?.cost_usd).toBe(0);
    const [noModel] = await append(db.sql, root, '{"input_tokens": 10, "output_tokens": 10}', null);
    expect(noModel.usage).toEqual({ input_tokens: 10, output_tokens: 10, cost_usd: 0 });

    expect(await taskUsage(root)).toEqual({ input_tokens: 1001020, output_tokens: 520, model_steps: 4, cost_usd: 1.0012 });
    expect((await run(root)).cost_usd).toBe('1.0012');

    const child = await createParallel(db.sql, root, 'child');
    await claim(db.sql, child.id, 'w2');
    await append(db.sql, child.id, '{"input_tokens": 0, "output_tokens": 1000000}', 'openai:gpt-4.1-mini', 'w2');
    expect((await taskUsage(child.id)).cost_usd).toBe(1.6);
    expect((await run(root)).cost_usd).toBe('2.6012');
  });

  it('finds the price of a model whose own name holds a colon (Ollama behind OPENAI_BASE_URL)', async () => {
    await db.sql`select taskweave.set_model_price('llama3.1:8b', 2, 4)`;
    const root = await runningRoot('{}');
    const [step] = await append(db.sql, root, '{"input_tokens": 500000, "output_tokens": 250000}', 'openai:llama3.1:8b');
    expect(step.usage?.cost_usd).toBe(2);
  });

  it('concurrent steps of one run add up exactly', async () => {
    await db.sql`select taskweave.set_model_price('demo:demo-researcher-1', 3, 7)`;
    const root = await runningRoot('{}');
    const children = [];
    for (let i = 0; i < 10; i++) {
      const child = await createParallel(db.sql, root, `part ${i}`);
      await claim(db.sql, child.id, `w-${i}`);
      children.push(child.id);
    }
    const connections = children.map(() => db.client(1));
    await Promise.all(children.flatMap((id, i) =>
      [0, 1, 2].map(() => append(connections[i], id, '{"input_tokens": 100000, "output_tokens": 10000}', 'demo:demo-researcher-1', `w-${i}`))));
    // 30 steps of 0.3 + 0.07 dollars
    expect((await run(root)).cost_usd).toBe('11.10');
  });

  it('a run past max_cost_usd starts no model step (TW004) until an operator raises it', async () => {
    await db.sql`select taskweave.set_model_price('demo:demo-planner-1', 10, 10)`;
    const root = await runningRoot('{"max_cost_usd": 0.01}');
    await beginStep(root, 'demo-planner-1');
    await append(db.sql, root, '{"input_tokens": 1000, "output_tokens": 0}', 'demo:demo-planner-1');
    const stopped = await rejection(beginStep(root, 'demo-planner-1'));
    expect(stopped.code).toBe('TW004');
    expect(stopped.message).toBe(`run limit reached: the run cost 0.010000 US dollars of its max_cost_usd = 0.01; no model step may start in run ${root}`);
    await db.sql`select taskweave.set_run_limits(${root}, '{"max_cost_usd": 1}')`;
    const [{ step }] = await beginStep(root, 'demo-planner-1');
    expect(step).toEqual({ wait_ms: 0 });
  });
});

describe('a step whose prompt would pass the budget is not sent', () => {
  it('refuses (TW004) a prompt that would take the run past max_tokens, and lets one that fits', async () => {
    const root = await runningRoot('{"max_tokens": 1000}');
    await append(db.sql, root, '{"input_tokens": 300, "output_tokens": 100}', null);
    const refused = await rejection(beginStep(root, 'demo-planner-1', 601));
    expect(refused.code).toBe('TW004');
    expect(refused.message).toBe(
      `run limit reached: the step's prompt of about 601 tokens would take the run past its max_tokens = 1000 (used 400); no model step may start in run ${root}`);
    const [{ step }] = await beginStep(root, 'demo-planner-1', 600);
    expect(step).toEqual({ wait_ms: 0 });
    // without an estimate the old check alone applies
    await beginStep(root, 'demo-planner-1');
  });

  it('refuses a prompt whose input price would take the run past max_cost_usd', async () => {
    await db.sql`select taskweave.set_model_price('openai:gpt-big', 100, 100)`;
    const root = await runningRoot('{"max_cost_usd": 1}');
    const refused = await rejection(beginStep(root, 'gpt-big', 20_000));
    expect(refused.code).toBe('TW004');
    expect(refused.message).toMatch(/^run limit reached: the step's prompt of about 20000 tokens \(2\.000000 US dollars\) would take the run past its max_cost_usd = 1 \(cost 0\.000000\)/);
    await beginStep(root, 'gpt-big', 9_000);
  });

  it('refuses a bad estimate with 22023', async () => {
    const root = await runningRoot('{}');
    expect((await rejection(beginStep(root, 'demo-planner-1', -1))).code).toBe('22023');
  });
});
