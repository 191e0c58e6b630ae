// The six tools: each parses its arguments with the shared schema (the SDK does, before the handler
// runs), calls the SQL API or reads, and answers with structured content checked against the output
// schema. Every refusal is a tool error (isError) whose text tells the model what to change.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { McpDeps } from './ports.ts';
import { MANUAL_OUTPUT_MAX_CHARS, TOOLS, type ToolArgs, type ToolKey, type ToolOutput } from './schemas.ts';
import * as store from './store.ts';
import { buildTaskView, taskUrl } from './view.ts';
import { describeAlreadyResolved, describeConflict, describeSuccess, parseManualOutput } from '../_shared/review-words.ts';

/** A refusal the model can act on: becomes `isError: true` with this text. */
export class ToolError extends Error {}

/** SQLSTATEs of the SQL API (DESIGN §3) that mean "the request was wrong or came too late", never "the server broke". */
const CALLER_SQLSTATES = new Set(['22023', '22P02', 'P0002', 'TW002', 'TW003', '55000', 'TW004', 'TW006', '42501']);

const sqlState = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
};

function text(summary: string, structured: unknown): CallToolResult['content'] {
  // clients that ignore structuredContent still get everything, as JSON after one line of prose
  return [{ type: 'text', text: `${summary}\n${JSON.stringify(structured, null, 2)}` }];
}

function ok<K extends ToolKey>(_tool: K, summary: string, structured: ToolOutput<K>): CallToolResult {
  return { content: text(summary, structured), structuredContent: structured as Record<string, unknown> };
}

const fail = (message: string): CallToolResult => ({ content: [{ type: 'text', text: message }], isError: true });

const notFound = (id: string) => new ToolError(`No task with id ${id}. Use the task_id that create_task returned (or one from get_task's children).`);

function encodeCursor(at: string, id: string): string {
  return btoa(JSON.stringify([at, id])).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function decodeCursor(raw: string): { at: string; id: string } | undefined {
  try {
    const padded = raw.replaceAll('-', '+').replaceAll('_', '/');
    const [at, id] = JSON.parse(atob(padded + '='.repeat((4 - (padded.length % 4)) % 4))) as [unknown, unknown];
    if (
      typeof at === 'string' &&
      /^\d{4}-\d{2}-\d{2}[ T][0-9:.]+([+-]\d{2}(:?\d{2})?|Z)$/.test(at) &&
      typeof id === 'string' &&
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
    ) {
      return { at, id };
    }
  } catch {
    // falls through
  }
  return undefined;
}

type Handler<K extends ToolKey> = (args: ToolArgs<K>, signal: AbortSignal) => Promise<CallToolResult>;

export function registerTools(server: McpServer, deps: McpDeps, requestSignal?: AbortSignal): void {
  const { sql, logger, webUrl } = deps;
  const recheckMs = deps.recheckMs ?? 5_000;

  function register<K extends ToolKey>(key: K, handler: Handler<K>) {
    const tool = TOOLS[key];
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.input as z.ZodType,
        outputSchema: tool.output as z.ZodType,
      },
      async (args: unknown, extra: { signal: AbortSignal }) => {
        const signal = requestSignal ? AbortSignal.any([extra.signal, requestSignal]) : extra.signal;
        try {
          return await handler(args as ToolArgs<K>, signal);
        } catch (error) {
          if (error instanceof ToolError) return fail(error.message);
          const code = sqlState(error);
          if (code && CALLER_SQLSTATES.has(code)) return fail(`${(error as Error).message} (SQLSTATE ${code})`);
          logger.error('tool failed', { tool: tool.name, error: (error as Error).message, code });
          return fail(`${tool.name} could not be completed: the task database did not answer as expected. Try again; if it keeps failing, the operator should check the mcp function's log.`);
        }
      },
    );
  }

  register('createTask', async (args) => {
    // absent keys take the database defaults; null means no limit (the SQL API's own rules)
    const limits: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(args.limits ?? {})) if (v !== undefined) limits[k] = v;
    const task = await store.createTask(sql, { title: args.title, instructions: args.instructions, input: args.input ?? {}, limits });
    const view = await buildTaskView(sql, webUrl, task.id);
    const out: ToolOutput<'createTask'> = { task_id: task.id, title: task.title, status: task.status, url: taskUrl(webUrl, task.id), run: view?.run ?? null };
    return ok('createTask', `Created task ${task.id} (“${task.title}”), ${task.status}. Its page: ${out.url}. Follow it with wait_for_task.`, out);
  });

  register('getTask', async (args) => {
    const view = await buildTaskView(sql, webUrl, args.task_id);
    if (!view) throw notFound(args.task_id);
    return ok('getTask', `Task “${view.title}” is ${view.status}; the work under it is ${view.state.replaceAll('_', ' ')}.`, view);
  });

  register('waitForTask', async (args, signal) => {
    const started = deps.clock.now();
    const deadline = started + args.timeout_seconds * 1000;
    const task = await store.loadTask(sql, args.task_id);
    if (!task) throw notFound(args.task_id);
    // subscribe before the first read, so a change between the read and the wait is not lost
    const subscription = await deps.changes.subscribe(task.root_task_id);
    try {
      for (;;) {
        const view = await buildTaskView(sql, webUrl, args.task_id);
        if (!view) throw notFound(args.task_id);
        const reason =
          view.state === 'needs_operator'
            ? 'needs_operator'
            : view.state !== 'running'
              ? 'ended'
              : args.changed_since !== undefined && args.changed_since !== view.version
                ? 'changed'
                : deps.clock.now() >= deadline || signal.aborted
                  ? 'timed_out'
                  : undefined;
        if (reason) {
          const waited = Math.round((deps.clock.now() - started) / 100) / 10;
          const summary =
            reason === 'ended'
              ? `The work under “${view.title}” has ended: ${view.state}.`
              : reason === 'needs_operator'
                ? `“${view.title}” waits for an operator: ${view.open_reviews.length} open review(s); resolve them with resolve_review.`
                : reason === 'changed'
                  ? `Something changed under “${view.title}”; it is still running.`
                  : `Still running after ${waited} s; call wait_for_task again.`;
          return ok('waitForTask', summary, { reason, timed_out: reason === 'timed_out', waited_seconds: waited, task: view });
        }
        await subscription.next(Math.min(recheckMs, deadline - deps.clock.now()), signal);
      }
    } finally {
      subscription.close();
    }
  });

  register('listReviews', async (args) => {
    let after: { at: string; id: string } | undefined;
    if (args.cursor !== undefined && args.cursor !== '') {
      after = decodeCursor(args.cursor);
      if (!after) throw new ToolError('cursor is not one list_reviews gave out: pass next_cursor from the previous page unchanged, or omit cursor to start at the first page.');
    }
    const page = await store.listOpenReviews(sql, { after, limit: args.limit, rootTaskId: args.root_task_id });
    const aggregators = await store.loadAggregatorsOf(sql, page.rows.map((r) => r.task_id));
    const last = page.rows.at(-1);
    const out: ToolOutput<'listReviews'> = {
      reviews: page.rows.map((r) => ({
        review_id: r.id,
        created_at: new Date(r.created_at).toISOString(),
        error: r.error ? { ...r.error, category: typeof r.error.category === 'string' ? r.error.category : null, message: String(r.error.message ?? '') } : null,
        task: {
          id: r.task_id,
          title: r.title,
          instructions: r.instructions,
          status: r.task_status,
          attempt: r.attempt,
          max_attempts: r.max_attempts,
          root_task_id: r.root_task_id,
          url: taskUrl(webUrl, r.task_id),
        },
        aggregators: aggregators
          .filter((a) => a.dependent_task_ids.includes(r.task_id))
          .map((a) => ({ id: a.id, title: a.title, status: a.status, total: a.total, ended: a.ended, completed: a.completed, activated_by: a.activated_by ?? null })),
      })),
      total: page.total,
      next_cursor: page.hasMore && last ? encodeCursor(last.cursor_at, last.id) : null,
    };
    return ok('listReviews', `${out.reviews.length} of ${page.total} open review(s)${out.next_cursor ? '; more with next_cursor' : ''}.`, out);
  });

  register('resolveReview', async (args) => {
    if (args.action !== 'manual' && args.manual_output !== undefined) {
      throw new ToolError(`manual_output is only for action "manual" (action was "${args.action}"): drop it, or use action "manual".`);
    }
    let manualOutput: unknown;
    if (args.action === 'manual') {
      if (args.manual_output === undefined) throw new ToolError('action "manual" needs manual_output: the output the task should have produced.');
      const parsed = parseManualOutput(args.manual_output, args.manual_format, MANUAL_OUTPUT_MAX_CHARS);
      if (!parsed.ok) throw new ToolError(parsed.error.replace('choose "Text"', 'set manual_format to "text"'));
      manualOutput = parsed.value;
    }
    const note = args.note?.trim() ? args.note.trim() : null;
    let result: Awaited<ReturnType<typeof store.resolveReview>>;
    try {
      result = await store.resolveReview(sql, { reviewId: args.review_id, action: args.action, manualOutput, note });
    } catch (error) {
      const code = sqlState(error);
      const detail = (error as Error).message;
      if (code === 'P0002') throw new ToolError(`No open review with id ${args.review_id}. list_reviews shows the open ones. (${detail})`);
      if (code === 'TW002' || code === 'TW003' || code === '55000') {
        const row = await store.reviewState(sql, args.review_id).catch(() => undefined);
        if (row && row.status === 'resolved') {
          throw new ToolError(
            `${describeAlreadyResolved({ action: row.action, resolvedBy: row.resolved_by, resolvedAt: row.resolved_at, taskTitle: row.title })} (${detail})`,
          );
        }
        throw new ToolError(describeConflict(detail));
      }
      throw error;
    }
    const { review, task, aggregators } = result;
    const message = describeSuccess(review.action, task, aggregators);
    return ok('resolveReview', message, {
      review_id: review.id,
      action: review.action,
      message,
      task,
      aggregators: aggregators.map((a) => ({ id: a.id, title: a.title, status: a.status, total: a.total, ended: a.ended, completed: a.completed, activated_by: a.activated_by ?? null })),
    });
  });

  register('cancelTask', async (args) => {
    const note = args.note?.trim() ? args.note.trim() : null;
    let result: Awaited<ReturnType<typeof store.cancelTask>>;
    try {
      result = await store.cancelTask(sql, args.task_id, note);
    } catch (error) {
      if (sqlState(error) === 'P0002') throw notFound(args.task_id);
      throw error;
    }
    const { task, stopped } = result;
    const message =
      stopped > 0
        ? `Cancelled “${task.title}”: ${stopped === 1 ? '1 task' : `${stopped} tasks`} stopped (it and what it started that had not ended).`
        : `Nothing to stop: “${task.title}” and everything under it had already ended (it is ${task.status}).`;
    return ok('cancelTask', message, { task_id: task.id, title: task.title, status: task.status, stopped, message });
  });
}
