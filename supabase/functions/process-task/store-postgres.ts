// The TaskStore port over postgres.js: every state change is one call to the SQL API in schema
// `taskweave` (docs/contracts.md §2); only reads are plain SELECTs. Errors keep their SQLSTATE so the core can tell
// a stale lease (TW001) from a run limit (TW004) from a rejected argument (22023) from a broken connection.
import type postgres from 'postgres';
import type { TaskStore } from './ports.ts';
import { SqlApiError } from './errors.ts';
import {
  AgentDefinitionSchema,
  TaskMessageSchema,
  TaskSchema,
  ToolCallRecordSchema,
  ToolCallReviewSchema,
  type Task,
  type TaskError,
  type TaskMessage,
  type ToolCallRecord,
} from './types.ts';

type Sql = postgres.Sql<Record<string, unknown>>;

const toTask = (row: unknown): Task => TaskSchema.parse(row);
const toMessage = (row: unknown): TaskMessage => TaskMessageSchema.parse(row);
const toToolCall = (row: unknown): ToolCallRecord => ToolCallRecordSchema.parse(row);

async function call<T>(fn: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const e = error as { code?: string; message?: string };
    // SQLSTATE classes from the SQL API and data errors become typed; connection errors pass as they are
    if (typeof e?.code === 'string' && /^([0-9A-Z]{5})$/.test(e.code) && !/^(08|57P|53)/.test(e.code)) {
      throw new SqlApiError(e.code, e.message ?? String(error), fn);
    }
    throw error;
  }
}

function one(fn: string, rows: readonly unknown[]): Task {
  const row = rows[0] as Record<string, unknown> | undefined;
  // a `returns tasks` function that returned null comes back as a row of nulls
  if (!row || row.id == null) throw new SqlApiError('P0002', `${fn} returned no task`, fn);
  return toTask(row);
}

/** A Postgres array literal; every element quoted, so no value can break out of it. */
const arrayLiteral = (values: readonly unknown[]) =>
  `{${values.map((v) => (v === null ? 'NULL' : `"${String(v).replace(/[\\"]/g, (c) => `\\${c}`)}"`)).join(',')}}`;

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function postgresTaskStore(sql: Sql): TaskStore {
  // typed as jsonb by postgres.js itself, so strings stay JSON strings (a bare string param would be re-encoded)
  const json = (value: unknown) => sql.json((value === undefined ? null : value) as postgres.JSONValue);
  return {
    claimTask: (taskId, worker, leaseSeconds) =>
      call('claim_task', async () => one('claim_task', await sql`select * from taskweave.claim_task(${taskId}::uuid, ${worker}, ${leaseSeconds}::int)`)),

    claimTasks: (worker, limit, leaseSeconds) =>
      call('claim_tasks', async () => {
        const rows = await sql`select * from taskweave.claim_tasks(${worker}, ${limit}::int, ${leaseSeconds}::int)`;
        return rows.filter((r) => r.id != null).map(toTask);
      }),

    heartbeat: (taskId, worker, leaseSeconds) =>
      call('heartbeat_task', async () =>
        one('heartbeat_task', await sql`select * from taskweave.heartbeat_task(${taskId}::uuid, ${worker}, ${leaseSeconds}::int)`),
      ),

    beginModelStep: (taskId, worker, model, promptTokens) =>
      call('begin_model_step', async () => {
        const [row] = await sql`select taskweave.begin_model_step(${taskId}::uuid, ${worker}, ${model}, ${promptTokens ?? null}::bigint) as step`;
        const waitMs = Number((row?.step as { wait_ms?: unknown } | null)?.wait_ms ?? 0);
        return { waitMs: Number.isFinite(waitMs) && waitMs > 0 ? waitMs : 0 };
      }),

    complete: (taskId, worker, output) =>
      call('complete_task', async () =>
        one('complete_task', await sql`select * from taskweave.complete_task(${taskId}::uuid, ${worker}, ${json(output)}::jsonb)`),
      ),

    completeAndClaim: (taskId, worker, output, leaseSeconds) =>
      call('complete_and_claim', async () => {
        const rows = await sql`select * from taskweave.complete_and_claim(${taskId}::uuid, ${worker}, ${json(output)}::jsonb, ${leaseSeconds}::int)`;
        const next = rows.find((r) => r.id != null);
        return next ? toTask(next) : null;
      }),

    fail: (taskId, worker, error: TaskError, retryable) =>
      call('fail_task', async () =>
        one('fail_task', await sql`select * from taskweave.fail_task(${taskId}::uuid, ${worker}, ${json(error)}::jsonb, ${retryable}::boolean)`),
      ),

    release: (taskId, worker, delaySeconds, rateLimited = false) =>
      call('release_task', async () =>
        one('release_task', await sql`select * from taskweave.release_task(${taskId}::uuid, ${worker}, ${delaySeconds}::int, ${rateLimited}::boolean)`),
      ),

    appendMessage: (taskId, worker, role, content, usage = null, model = null) =>
      call('append_task_message', async () => {
        const rows = await sql`select * from taskweave.append_task_message(${taskId}::uuid, ${worker}, ${role}, ${json(content)}::jsonb, ${usage ? json(usage) : null}::jsonb, ${model}::text)`;
        return toMessage(rows[0]);
      }),

    getAgent: (slug) =>
      call('select agents', async () => {
        const rows = await sql`
          select a.slug, a.name, a.description, a.instructions, a.model, a.temperature, a.max_output_tokens,
                 coalesce((select jsonb_agg(to_jsonb(t) order by l.position, t.slug)
                             from taskweave.agent_tools l join taskweave.tools t on t.slug = l.tool_slug
                            where l.agent_slug = a.slug), '[]'::jsonb) as tools
            from taskweave.agents a where a.slug = ${slug}`;
        return rows[0] ? AgentDefinitionSchema.parse(rows[0]) : null;
      }),

    listAgents: () =>
      call('select agents', async () => {
        const rows = await sql`select slug, name, description from taskweave.agents order by slug limit 100`;
        return rows.map((r) => ({ slug: String(r.slug), name: String(r.name), description: String(r.description ?? '') }));
      }),

    getToolCall: (taskId, toolCallId) =>
      call('select tool_calls', async () => {
        const rows = await sql`select * from taskweave.tool_calls where task_id = ${taskId}::uuid and tool_call_id = ${toolCallId}`;
        return rows[0] ? toToolCall(rows[0]) : null;
      }),

    startToolCall: (taskId, worker, c) =>
      call('start_tool_call', async () => {
        const rows = await sql`select * from taskweave.start_tool_call(${taskId}::uuid, ${worker}, ${c.toolCallId}, ${c.tool.slug}, ${c.toolName}, ${json(c.arguments)}::jsonb)`;
        return toToolCall(rows[0]);
      }),

    finishToolCall: (taskId, worker, toolCallId, outcome) =>
      call('finish_tool_call', async () => {
        const result = outcome.result === undefined || outcome.result === null ? null : json(outcome.result);
        const rows = await sql`select * from taskweave.finish_tool_call(${taskId}::uuid, ${worker}, ${toolCallId}, ${result}::jsonb, ${outcome.error ?? null}::text)`;
        return toToolCall(rows[0]);
      }),

    requestHuman: (taskId, worker, { kind, request }) =>
      call('request_human', async () => {
        await sql`select id from taskweave.request_human(${taskId}::uuid, ${worker}, ${kind}, ${json(request)}::jsonb)`;
        return one('request_human', await sql`select * from taskweave.tasks where id = ${taskId}::uuid`);
      }),

    toolCallReview: (taskId, toolCallId) =>
      call('get_tool_call_review', async () => {
        const rows = await sql`select * from taskweave.get_tool_call_review(${taskId}::uuid, ${toolCallId})`;
        return rows[0]?.id == null ? null : ToolCallReviewSchema.parse(rows[0]);
      }),

    callSqlTool: (taskId, worker, toolCallId, timeoutSeconds) =>
      call('call_sql_tool', async () =>
        toToolCall(
          await sql.begin(async (tx) => {
            // call_sql_tool refuses to run without a statement timeout of at most the tool's own
            await tx.unsafe(`set local statement_timeout = '${Math.max(1, Math.trunc(timeoutSeconds))}s'`);
            const [row] = await tx`select * from taskweave.call_sql_tool(${taskId}::uuid, ${worker}, ${toolCallId})`;
            return row;
          }),
        ),
      ),

    callTaskFunction: (fn, args) =>
      call(fn, async () => {
        if (!IDENTIFIER.test(fn)) throw new SqlApiError('22023', `not an API function name: ${fn}`, fn);
        const named = Object.entries(args as Record<string, unknown>).filter(([, v]) => v !== undefined);
        const bad = named.find(([name]) => !IDENTIFIER.test(name));
        if (bad) throw new SqlApiError('22023', `not an argument name: ${bad[0]}`, fn);
        // arrays travel as quoted array literals and objects as jsonb; Postgres resolves the rest by the named parameter's type
        const values = named.map(([, v]) => (Array.isArray(v) ? arrayLiteral(v) : v !== null && typeof v === 'object' ? json(v) : v));
        const list = named.map(([name], i) => `${name} => $${i + 1}`).join(', ');
        return one(fn, await sql.unsafe(`select * from taskweave.${fn}(${list})`, values as postgres.ParameterOrJSON<never>[]));
      }),

    dependencyResults: (taskId) =>
      call('get_dependency_results', async () => {
        const rows = await sql`select * from taskweave.get_dependency_results(${taskId}::uuid)`;
        return rows.filter((r) => r.id != null).map(toTask);
      }),

    getTask: (taskId) =>
      call('select tasks', async () => {
        const rows = await sql`select * from taskweave.tasks where id = ${taskId}::uuid`;
        return rows[0] ? toTask(rows[0]) : null;
      }),

    listMessages: (taskId) =>
      call('select task_messages', async () => {
        const rows = await sql`select task_id, seq, role, content, created_at from taskweave.task_messages where task_id = ${taskId}::uuid order by seq`;
        return rows.map(toMessage);
      }),
  };
}
