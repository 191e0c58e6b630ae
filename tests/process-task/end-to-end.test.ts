// The whole path with the real function under Deno, the real dispatcher and a scripted OpenAI-compatible
// model: root -> 3 parallel tasks + aggregator -> one parallel task fails until it needs review ->
// an operator resolves it by hand -> the aggregator runs with all three results -> done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, operator, setSettings, useTestDatabase } from '../helpers/database.ts';
import { startDispatcher, type Dispatcher } from '../../scripts/lib/dispatcher.ts';
import { messageText, startFakeOpenAI, taskOf, toolResultsOf, type ChatRequest, type FakeOpenAI } from './fake-openai-server.ts';
import { startFunction, waitFor } from './support.ts';

const db = useTestDatabase();
let fake: FakeOpenAI;
let fn: Awaited<ReturnType<typeof startFunction>>;
let dispatcher: Dispatcher;
const aggregatorRequests: ChatRequest[] = [];
const TOPICS = ['Alpha', 'Beta', 'Gamma'];

beforeAll(async () => {
  // retries without backoff, so the failing task reaches review in seconds
  await setSettings(db.sql, { retry_base_seconds: 0 });
  fake = await startFakeOpenAI((req) => {
    const task = taskOf(req);
    const results = toolResultsOf(req);
    if (task.kind === 'root') {
      if (!req.messages.some((m) => m.role === 'assistant')) {
        return {
          content: 'Splitting the work in three.',
          tool_calls: TOPICS.map((topic) => ({
            id: `call_${topic.toLowerCase()}`,
            name: 'create_parallel_task',
            arguments: { title: `Research ${topic}`, instructions: `Find out about ${topic}.`, input: { topic } },
          })),
        };
      }
      const aggregatorDone = results.find((r) => r.tool_call_id === 'call_aggregate');
      if (!aggregatorDone) {
        const ids = results.map((r) => (r.value as { task_id: string }).task_id);
        return {
          tool_calls: [
            { id: 'call_aggregate', name: 'create_aggregator_task', arguments: { title: 'Combine the research', instructions: 'Write one summary.', dependent_task_ids: ids } },
          ],
        };
      }
      return { content: `Delegated to three researchers and aggregator ${(aggregatorDone.value as { task_id: string }).task_id}.` };
    }
    if (task.kind === 'parallel') {
      if (task.input.topic === 'Beta') {
        return { status: 500, body: { error: { message: 'upstream model crashed on Beta', type: 'server_error', code: 'internal' } } };
      }
      return { content: `Finding about ${task.input.topic}: it is ${String(task.input.topic).length} letters long.` };
    }
    aggregatorRequests.push(req);
    return { content: 'Summary: Alpha and Gamma by models, Beta by a person.' };
  });
  fn = await startFunction(db.url, {
    LLM_PROVIDER: 'openai',
    LLM_MODEL: 'fake-gpt',
    OPENAI_BASE_URL: fake.baseURL,
    OPENAI_API_KEY: 'sk-test',
    PROCESS_TASK_MODEL_MAX_RETRIES: '0',
  });
  dispatcher = await startDispatcher({
    databaseUrl: db.url,
    functionUrl: fn.url,
    secret: fn.secret,
    concurrency: 3,
    sweepIntervalMs: 300,
    log: () => {},
  });
});

afterAll(async () => {
  await dispatcher?.stop();
  await fn?.stop();
  await fake?.close();
});

describe('process-task end to end', () => {
  it('fans out, escalates a failure to review, and fans in with the operator output', async () => {
    const sql = db.sql;
    const [root] = await sql`select * from taskweave.create_task('Survey three topics', 'Research Alpha, Beta and Gamma and summarise.')`;

    // the failing task runs out of its 3 attempts and waits for a person
    const review = await waitFor('the Beta review', async () => {
      const [r] = await sql`select r.*, t.attempt, t.status as task_status from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id where r.status = 'open'`;
      return r;
    }, 45_000);
    expect(review.task_status).toBe('needs_human_review');
    expect(review.attempt).toBe(3);
    expect(review.error.category).toBe('model');
    expect(review.error.provider.status_code).toBe(500);
    expect(review.error.provider.response_body).toContain('upstream model crashed on Beta');
    expect(review.error.max_attempts).toBe(3);

    const children = await sql`select * from taskweave.tasks where parent_task_id = ${root.id} order by created_at`;
    expect(children).toHaveLength(4);
    const byTitle = Object.fromEntries(children.map((c) => [c.title, c]));
    const aggregator = byTitle['Combine the research'];
    expect(aggregator.dependent_task_ids).toEqual(['Research Alpha', 'Research Beta', 'Research Gamma'].map((t) => byTitle[t].id));
    await waitFor('Alpha and Gamma completed', async () => {
      const rows = await sql`select status from taskweave.tasks where id in ${sql([byTitle['Research Alpha'].id, byTitle['Research Gamma'].id])}`;
      return rows.every((r) => r.status === 'completed');
    });
    const [held] = await sql`select status from taskweave.tasks where id = ${aggregator.id}`;
    expect(held.status).toBe('queued'); // a dependency in review holds the aggregator
    expect(aggregatorRequests).toHaveLength(0);
    const [rootNow] = await sql`select status, output from taskweave.tasks where id = ${root.id}`;
    expect(rootNow.status).toBe('completed');
    expect(rootNow.output.text).toContain(aggregator.id);

    // an operator writes Beta's result by hand
    await asIdentity(sql, operator(), (tx) => tx`select * from taskweave.resolve_review(${review.id}, 'manual', ${sql.json({ finding: 'Beta was researched by hand: 4 letters.' })}, 'model kept failing')`);

    const done = await waitFor('the aggregator to complete', async () => {
      const [a] = await sql`select * from taskweave.tasks where id = ${aggregator.id}`;
      return a.status === 'completed' ? a : undefined;
    }, 30_000);
    expect(done.output.source).toBe('model');
    expect(done.output.text).toBe('Summary: Alpha and Gamma by models, Beta by a person.');

    // the aggregator's model request held all three results, Beta marked as human-written
    expect(aggregatorRequests).toHaveLength(1);
    const prompt = aggregatorRequests[0].messages.map(messageText).join('\n');
    expect(prompt).toContain('Finding about Alpha: it is 5 letters long.');
    expect(prompt).toContain('Finding about Gamma: it is 5 letters long.');
    expect(prompt).toContain('Beta was researched by hand: 4 letters.');
    const injected = JSON.parse(/<dependency_results>\n([\s\S]*?)\n<\/dependency_results>/.exec(prompt)![1]);
    expect(injected.map((d: { title: string; completed_by: string; status: string }) => [d.title, d.status, d.completed_by])).toEqual([
      ['Research Alpha', 'completed', 'model'],
      ['Research Beta', 'completed', 'operator'],
      ['Research Gamma', 'completed', 'model'],
    ]);

    // no duplicates, everything ended, nothing left running
    const all = await sql`select status, count(*)::int as n from taskweave.tasks where root_task_id = ${root.id} group by status order by status`;
    expect(all).toEqual([{ status: 'completed', n: 5 }]);
    const [{ n: dupes }] = await sql`select count(*)::int as n from (select parent_task_id, tool_call_id from taskweave.tasks where tool_call_id is not null group by 1, 2 having count(*) > 1) d`;
    expect(dupes).toBe(0);

    // the transcript of the root: system, user, step 1 (3 calls), 3 results, step 2, 1 result, final answer
    const transcript = await sql`select seq, role, content from taskweave.task_messages where task_id = ${root.id} order by seq`;
    expect(transcript.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'tool', 'tool', 'assistant', 'tool', 'assistant']);
    expect(transcript.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // each model step's tokens, as the provider reported them, are saved with it and summed on the task and the run
    const steps = await sql`select usage from taskweave.task_messages where task_id = ${root.id} and role = 'assistant' order by seq`;
    expect(steps.map((m) => m.usage)).toEqual(Array(3).fill({ input_tokens: 10, output_tokens: 5 }));
    const [rootUsage] = await sql`select usage from taskweave.tasks where id = ${root.id}`;
    expect(rootUsage.usage).toMatchObject({ input_tokens: 30, output_tokens: 15 });
    const [runUsage] = await sql`select input_tokens::int as input_tokens, output_tokens::int as output_tokens from taskweave.runs where root_task_id = ${root.id}`;
    expect(runUsage.input_tokens).toBeGreaterThan(30); // the children's and the aggregator's steps too
    if (process.env.PRINT_TRANSCRIPT) {
      const aggregatorTranscript = await sql`select seq, role, content from taskweave.task_messages where task_id = ${aggregator.id} order by seq`;
      console.log(JSON.stringify({ root: transcript, aggregator: aggregatorTranscript }));
    }
    // each model request after the first one carried the saved transcript forward
    const rootRequests = fake.requests.filter((r) => taskOf(r).kind === 'root');
    expect(rootRequests).toHaveLength(3);
    expect(rootRequests[2].messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'tool', 'tool', 'assistant', 'tool']);
    // the tools reached the model as JSON Schema from their zod schemas
    const tools = Object.fromEntries(rootRequests[0].tools!.map((t) => [t.function.name, t.function.parameters as { properties: Record<string, unknown>; required: string[] }]));
    expect(Object.keys(tools)).toEqual(['create_parallel_task', 'create_aggregator_task']);
    expect(Object.keys(tools.create_parallel_task.properties)).toEqual(['title', 'instructions', 'input']);
    expect(tools.create_parallel_task.required).toEqual(['title', 'instructions']);
    expect(tools.create_aggregator_task.required).toEqual(['title', 'instructions', 'dependent_task_ids']);
    expect(rootRequests[0].model).toBe('fake-gpt');
  });
});
