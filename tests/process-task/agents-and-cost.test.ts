// Agents through the real function under Deno, with a model server that reports usage: delegation (a
// parent fans out to agents named in create_parallel_task, each child runs on its agent's own model,
// instructions, temperature and output cap), cost in dollars priced by SQL from each step's model, a
// max_cost_usd stop, and a step whose prompt alone would pass max_tokens never being sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { messageText, startFakeOpenAI, taskOf, toolResultsOf, type ChatRequest, type FakeOpenAI } from './fake-openai-server.ts';
import { post, startFunction } from './support.ts';

const db = useTestDatabase();
let fake: FakeOpenAI;
let fn: Awaited<ReturnType<typeof startFunction>>;
const USAGE = { prompt_tokens: 1000, completion_tokens: 200 };

beforeAll(async () => {
  fake = await startFakeOpenAI((req) => {
    const task = taskOf(req);
    const first = !req.messages.some((m) => m.role === 'assistant');
    if (task.input.scenario === 'spend') return { tool_calls: [{ id: `noop_${req.messages.length}`, name: 'noop', arguments: {} }], usage: USAGE };
    if (task.kind === 'root' && first) {
      return {
        content: 'Delegating.',
        tool_calls: [
          { id: 'to_writer', name: 'create_parallel_task', arguments: { title: 'Draft', instructions: 'Draft the post.', agent: 'writer' } },
          { id: 'to_critic', name: 'create_parallel_task', arguments: { title: 'Critique', instructions: 'Find the flaws.', agent: 'critic' } },
          { id: 'to_default', name: 'create_parallel_task', arguments: { title: 'Facts', instructions: 'Check the facts.' } },
          { id: 'to_nobody', name: 'create_parallel_task', arguments: { title: 'Ghost', instructions: 'Nobody does this.', agent: 'nobody' } },
        ],
        usage: USAGE,
      };
    }
    if (task.kind === 'root') return { content: `delegated: ${JSON.stringify(toolResultsOf(req).map((r) => r.value))}`, usage: USAGE };
    return { content: `${task.id} done by ${req.model}`, usage: USAGE };
  });
  fn = await startFunction(db.url, { LLM_PROVIDER: 'openai', LLM_MODEL: 'fake-planner', OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' });
  await db.sql`select taskweave.upsert_agent('writer', ${db.sql.json({
    name: 'Writer',
    description: 'Writes the first draft',
    instructions: 'Write crisply, in short sentences.',
    model: 'openai:fake-writer',
    temperature: 0.2,
    max_output_tokens: 300,
  })})`;
  await db.sql`select taskweave.upsert_agent('critic', ${db.sql.json({ name: 'Critic', description: 'Finds the flaws in a draft', model: 'openai:fake-critic', temperature: 1.1 })})`;
});

afterAll(async () => {
  await fn?.stop();
  await fake?.close();
});

const requestsOf = (taskId: string) => fake.requests.filter((r) => taskOf(r).id === taskId);
const systemOf = (req: ChatRequest) => messageText(req.messages.find((m) => m.role === 'system')!);

describe('delegation to agents', () => {
  it('a parent fans out to the agents it names; each child runs as its agent, on its own model', async () => {
    const [root] = await db.sql`select * from taskweave.create_task('Blog post', 'Write a blog post with a critique.')`;
    const planned = await post(fn, { task_id: root.id });
    expect(planned.json.results).toEqual([expect.objectContaining({ status: 'completed' })]);
    const [plan] = requestsOf(root.id);
    expect(plan.model).toBe('fake-planner'); // no agent: the environment's model
    const delegate = plan.tools!.find((t) => t.function.name === 'create_parallel_task')!.function;
    expect(delegate.description).toContain('- critic: Finds the flaws in a draft');
    expect(delegate.description).toContain('- writer: Writes the first draft');
    expect(Object.keys((delegate.parameters as { properties: object }).properties)).toContain('agent');
    const results = Object.fromEntries(toolResultsOf(requestsOf(root.id)[1]).map((r) => [r.tool_call_id, r.value]));
    expect(results.to_writer).toMatchObject({ title: 'Draft', agent: 'writer' });
    expect(results.to_nobody).toMatch(/^create_parallel_task was rejected: .*nobody/); // an unknown agent is SQL's 22023, a tool error

    const children = await db.sql`select id, title, agent from taskweave.tasks where parent_task_id = ${root.id} order by title`;
    expect(children.map((c) => [c.title, c.agent])).toEqual([['Critique', 'critic'], ['Draft', 'writer'], ['Facts', null]]);
    const ran = await post(fn, { max_tasks: 3 });
    expect(ran.json.results).toHaveLength(3);
    expect(ran.json.results.map((r: { status: string }) => r.status)).toEqual(['completed', 'completed', 'completed']);

    const byTitle: Record<string, ChatRequest[]> = Object.fromEntries(children.map((c) => [c.title, requestsOf(c.id as string)]));
    expect(byTitle.Draft.map((r) => r.model)).toEqual(['fake-writer']);
    expect(byTitle.Draft[0]).toMatchObject({ temperature: 0.2, max_tokens: 300 });
    expect(systemOf(byTitle.Draft[0])).toMatch(/^You are the agent "Writer" \(writer\)\.\n\nWrite crisply, in short sentences\.\n\nYou are an agent in Taskweave working on one piece/);
    expect(byTitle.Critique.map((r) => r.model)).toEqual(['fake-critic']);
    expect(byTitle.Critique[0].temperature).toBe(1.1);
    expect(byTitle.Critique[0].max_tokens).toBeUndefined();
    expect(byTitle.Facts.map((r) => r.model)).toEqual(['fake-planner']);
    expect(byTitle.Facts[0].temperature).toBeUndefined();
    expect(systemOf(byTitle.Facts[0])).toMatch(/^You are an agent in Taskweave working on one piece/);

    const outputs = await db.sql`select title, output ->> 'model' as model from taskweave.tasks where parent_task_id = ${root.id} order by title`;
    expect(outputs).toEqual([
      { title: 'Critique', model: 'openai:fake-critic' },
      { title: 'Draft', model: 'openai:fake-writer' },
      { title: 'Facts', model: 'openai:fake-planner' },
    ]);
  });
});

describe('cost in dollars', () => {
  it('prices each step by its model, sums it on the task and the run, and stops the run past max_cost_usd (category budget)', async () => {
    // output only, so the prompt estimate adds nothing: 200 output tokens at $20 per million = $0.004 a step
    await db.sql`select taskweave.set_model_price('openai:fake-spender', 0, 20)`;
    await db.sql`select taskweave.upsert_agent('spender', ${db.sql.json({ name: 'Spender', model: 'openai:fake-spender' })})`;
    const [task] = await db.sql`select * from taskweave.create_task('Spend', 'Keep calling.', ${db.sql.json({ scenario: 'spend' })}, ${db.sql.json({ max_cost_usd: 0.01 })}, 'spender')`;
    const res = await post(fn, { task_id: task.id });
    expect(res.json.results).toEqual([expect.objectContaining({ status: 'failed', outcome: 'failed', error: expect.objectContaining({ category: 'budget' }) })]);
    // $0.004, $0.008, $0.012: the third step crossed the limit, and no fourth was sent
    expect(requestsOf(task.id)).toHaveLength(3);
    const [row] = await db.sql`select t.usage, t.last_error, r.cost_usd::float8 as run_cost from taskweave.tasks t join taskweave.runs r on r.root_task_id = t.root_task_id where t.id = ${task.id}`;
    expect(row.usage).toMatchObject({ input_tokens: 3000, output_tokens: 600 });
    expect(Number(row.usage.cost_usd)).toBeCloseTo(0.012, 9);
    expect(row.run_cost).toBeCloseTo(0.012, 9);
    expect(row.last_error).toMatchObject({ category: 'budget', message: expect.stringContaining('max_cost_usd') });
    const steps = await db.sql`select usage from taskweave.task_messages where task_id = ${task.id} and role = 'assistant' order by seq`;
    expect(steps.map((s) => [s.usage.model, Number(s.usage.cost_usd)])).toEqual([
      ['openai:fake-spender', 0.004],
      ['openai:fake-spender', 0.004],
      ['openai:fake-spender', 0.004],
    ]);
  });

  it('a step whose prompt alone would pass max_tokens is not sent', async () => {
    const [task] = await db.sql`select * from taskweave.create_task('Too long', ${'Read this. '.repeat(400)}, '{}'::jsonb, ${db.sql.json({ max_tokens: 500 })})`;
    const res = await post(fn, { task_id: task.id });
    expect(res.json.results).toEqual([expect.objectContaining({ status: 'failed', error: expect.objectContaining({ category: 'budget', message: expect.stringMatching(/prompt of about \d+ tokens would take the run past its max_tokens = 500/) }) })]);
    expect(requestsOf(task.id)).toHaveLength(0);
  });
});
