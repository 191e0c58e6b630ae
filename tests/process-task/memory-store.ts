// An in-memory TaskStore for unit tests of the core: enough of the SQL API's contract (leases, TW001,
// idempotent children, transcript order) to exercise the loop without a database. The real contract
// is tested against Postgres in the integration tests.
import type { TaskStore } from '../../supabase/functions/process-task/ports.ts';
import { SqlApiError } from '../../supabase/functions/process-task/errors.ts';
import type { Task, TaskError, TaskMessage } from '../../supabase/functions/process-task/types.ts';

export type StoreCall = { fn: string; args: unknown[] };

export class MemoryStore implements TaskStore {
  tasks = new Map<string, Task>();
  messages: TaskMessage[] = [];
  calls: StoreCall[] = [];
  failures: { taskId: string; error: TaskError; retryable: boolean }[] = [];
  /** make a method throw once, e.g. to simulate a lost lease */
  failNext: Partial<Record<keyof TaskStore, unknown>> = {};
  private counter = 0;

  addTask(partial: Partial<Task> & { title?: string }): Task {
    const id = partial.id ?? `00000000-0000-4000-8000-${String(++this.counter).padStart(12, '0')}`;
    const task: Task = {
      id,
      parent_task_id: null,
      root_task_id: id,
      title: 'Task',
      instructions: 'Do it.',
      input: {},
      status: 'pending',
      is_parallel_task: false,
      dependent_task_ids: [],
      output: null,
      last_error: null,
      attempt: 0,
      max_attempts: 3,
      run_after: null,
      leased_by: null,
      lease_expires_at: null,
      tool_call_id: null,
      depth: 0,
      created_at: new Date().toISOString(),
      updated_at: null,
      completed_at: null,
      ...partial,
    };
    this.tasks.set(id, task);
    return task;
  }

  private record(fn: keyof TaskStore, args: unknown[]) {
    this.calls.push({ fn, args });
    const planned = this.failNext[fn];
    if (planned !== undefined) {
      delete this.failNext[fn];
      throw planned;
    }
  }

  private leased(taskId: string, worker: string): Task {
    const task = this.tasks.get(taskId);
    if (!task) throw new SqlApiError('P0002', `task ${taskId} not found`, 'lease');
    if (task.status !== 'running' || task.leased_by !== worker) throw new SqlApiError('TW001', `task ${taskId} is not leased to ${worker}`, 'lease');
    return task;
  }

  private update(task: Task, patch: Partial<Task>): Task {
    const next = { ...task, ...patch };
    this.tasks.set(task.id, next);
    return next;
  }

  async claimTask(taskId: string, worker: string) {
    this.record('claimTask', [taskId, worker]);
    const task = this.tasks.get(taskId);
    if (!task) throw new SqlApiError('P0002', 'not found', 'claim_task');
    if (task.status !== 'pending') throw new SqlApiError('55000', `task ${taskId} is not claimable (status ${task.status})`, 'claim_task');
    return this.update(task, { status: 'running', attempt: task.attempt + 1, leased_by: worker, lease_expires_at: new Date(Date.now() + 60_000).toISOString() });
  }
  async claimTasks(worker: string, limit: number) {
    this.record('claimTasks', [worker, limit]);
    const due = [...this.tasks.values()].filter((t) => t.status === 'pending').slice(0, limit);
    return Promise.all(due.map((t) => this.claimTask(t.id, worker)));
  }
  async heartbeat(taskId: string, worker: string) {
    this.record('heartbeat', [taskId, worker]);
    return this.leased(taskId, worker);
  }
  async complete(taskId: string, worker: string, output: unknown) {
    this.record('complete', [taskId, worker, output]);
    return this.update(this.leased(taskId, worker), { status: 'completed', output, leased_by: null, lease_expires_at: null });
  }
  async fail(taskId: string, worker: string, error: TaskError, retryable: boolean) {
    this.record('fail', [taskId, worker, error, retryable]);
    const task = this.leased(taskId, worker);
    this.failures.push({ taskId, error, retryable });
    const status = retryable && task.attempt < task.max_attempts ? 'pending' : task.is_parallel_task ? 'needs_human_review' : 'failed';
    return this.update(task, { status, last_error: error, leased_by: null, lease_expires_at: null });
  }
  async release(taskId: string, worker: string, delaySeconds: number) {
    this.record('release', [taskId, worker, delaySeconds]);
    const task = this.leased(taskId, worker);
    return this.update(task, { status: 'pending', attempt: Math.max(0, task.attempt - 1), leased_by: null, lease_expires_at: null });
  }
  async appendMessage(taskId: string, worker: string, role: TaskMessage['role'], content: unknown) {
    this.record('appendMessage', [taskId, worker, role, content]);
    this.leased(taskId, worker);
    const seq = this.messages.filter((m) => m.task_id === taskId).length + 1;
    const message: TaskMessage = { task_id: taskId, seq, role, content: structuredClone(content), created_at: new Date().toISOString() };
    this.messages.push(message);
    return message;
  }
  async createParallelTask(args: { parentTaskId: string; title: string; instructions: string; input: unknown; toolCallId: string }) {
    this.record('createParallelTask', [args]);
    const existing = await this.findChildByToolCall(args.parentTaskId, args.toolCallId);
    if (existing) return existing;
    const parent = this.tasks.get(args.parentTaskId)!;
    return this.addTask({
      parent_task_id: parent.id,
      root_task_id: parent.root_task_id,
      title: args.title,
      instructions: args.instructions,
      input: args.input,
      is_parallel_task: true,
      tool_call_id: args.toolCallId,
      depth: parent.depth + 1,
    });
  }
  async createAggregatorTask(args: { parentTaskId: string; dependentTaskIds: string[]; title: string; instructions: string; toolCallId: string }) {
    this.record('createAggregatorTask', [args]);
    const existing = await this.findChildByToolCall(args.parentTaskId, args.toolCallId);
    if (existing) return existing;
    for (const id of args.dependentTaskIds) if (!this.tasks.has(id)) throw new SqlApiError('22023', `dependency ${id} does not exist`, 'create_aggregator_task');
    const parent = this.tasks.get(args.parentTaskId)!;
    return this.addTask({
      parent_task_id: parent.id,
      root_task_id: parent.root_task_id,
      title: args.title,
      instructions: args.instructions,
      status: 'queued',
      is_parallel_task: true,
      dependent_task_ids: args.dependentTaskIds,
      tool_call_id: args.toolCallId,
      depth: parent.depth + 1,
    });
  }
  async dependencyResults(taskId: string) {
    return (this.tasks.get(taskId)?.dependent_task_ids ?? []).map((id) => this.tasks.get(id)!).filter(Boolean);
  }
  async getTask(taskId: string) {
    return this.tasks.get(taskId) ?? null;
  }
  async listMessages(taskId: string) {
    return this.messages.filter((m) => m.task_id === taskId).map((m) => structuredClone(m));
  }
  async countChildren(parentTaskId: string) {
    return [...this.tasks.values()].filter((t) => t.parent_task_id === parentTaskId).length;
  }
  async findChildByToolCall(parentTaskId: string, toolCallId: string) {
    return [...this.tasks.values()].find((t) => t.parent_task_id === parentTaskId && t.tool_call_id === toolCallId) ?? null;
  }
}
