// The TaskStore port over postgres.js: every state change is one call to the SQL API (DESIGN §3);
// only reads are plain SELECTs. Errors keep their SQLSTATE so the core can tell a stale lease (TW001)
// from a rejected argument (22023) from a broken connection.
import type postgres from 'postgres';
import type { TaskStore } from './ports.ts';
import { SqlApiError } from './errors.ts';
import { TaskMessageSchema, TaskSchema, type Task, type TaskError, type TaskMessage } from './types.ts';

type Sql = postgres.Sql<Record<string, unknown>>;

const toTask = (row: unknown): Task => TaskSchema.parse(row);
const toMessage = (row: unknown): TaskMessage => TaskMessageSchema.parse(row);

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

    complete: (taskId, worker, output) =>
      call('complete_task', async () =>
        one('complete_task', await sql`select * from taskweave.complete_task(${taskId}::uuid, ${worker}, ${json(output)}::jsonb)`),
      ),

    fail: (taskId, worker, error: TaskError, retryable) =>
      call('fail_task', async () =>
        one('fail_task', await sql`select * from taskweave.fail_task(${taskId}::uuid, ${worker}, ${json(error)}::jsonb, ${retryable}::boolean)`),
      ),

    release: (taskId, worker, delaySeconds) =>
      call('release_task', async () =>
        one('release_task', await sql`select * from taskweave.release_task(${taskId}::uuid, ${worker}, ${delaySeconds}::int)`),
      ),

    appendMessage: (taskId, worker, role, content) =>
      call('append_task_message', async () => {
        const rows = await sql`select * from taskweave.append_task_message(${taskId}::uuid, ${worker}, ${role}, ${json(content)}::jsonb)`;
        return toMessage(rows[0]);
      }),

    createParallelTask: ({ parentTaskId, title, instructions, input, toolCallId }) =>
      call('create_parallel_task', async () =>
        one(
          'create_parallel_task',
          await sql`select * from taskweave.create_parallel_task(${parentTaskId}::uuid, ${title}, ${instructions}, ${json(input ?? {})}::jsonb, ${toolCallId})`,
        ),
      ),

    createAggregatorTask: ({ parentTaskId, dependentTaskIds, title, instructions, toolCallId }) =>
      call('create_aggregator_task', async () =>
        one(
          'create_aggregator_task',
          // the ids travel as one JSON array so no id can break out of an array literal
          await sql`select * from taskweave.create_aggregator_task(
            ${parentTaskId}::uuid,
            array(select jsonb_array_elements_text(${json(dependentTaskIds)}::jsonb)::uuid),
            ${title}, ${instructions}, ${toolCallId})`,
        ),
      ),

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

    countChildren: (parentTaskId) =>
      call('select tasks', async () => {
        const [row] = await sql`select count(*)::int as n from taskweave.tasks where parent_task_id = ${parentTaskId}::uuid`;
        return Number(row.n);
      }),

    findChildByToolCall: (parentTaskId, toolCallId) =>
      call('select tasks', async () => {
        const rows = await sql`select * from taskweave.tasks where parent_task_id = ${parentTaskId}::uuid and tool_call_id = ${toolCallId}`;
        return rows[0] ? toTask(rows[0]) : null;
      }),
  };
}
