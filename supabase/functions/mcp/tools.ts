// The seven tools: each parses its arguments with the shared schema (the SDK does, before the handler
// runs), calls the SQL API or reads, and answers with structured content checked against the output
// schema. Every refusal is a tool error (isError) whose text tells the model what to change.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { McpDeps } from './ports.ts';
import { MANUAL_OUTPUT_MAX_CHARS, REVIEW_FILTER_FIELDS, TOOLS, type ToolArgs, type ToolKey, type ToolOutput } from './schemas.ts';
import * as store from './store.ts';
import { buildTaskView, taskUrl } from './view.ts';
import { describeAlreadyResolved, describeConflict, describeSuccess, parseManualOutput, plural } from '../_shared/review-words.ts';
import { decodeKeysetCursor } from '../_shared/keyset-cursor.ts';
import * as operator from '../_shared/operator.ts';

/** A refusal the model can act on: becomes `isError: true` with this text. */
export class ToolError extends Error {}

/** SQLSTATEs of the SQL API (docs/contracts.md §2) that mean "the request was wrong or came too late", never "the server broke". */
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

type Handler<K extends ToolKey> = (args: ToolArgs<K>, signal: AbortSignal) => Promise<CallToolResult>;

export function registerTools(server: McpServer, deps: McpDeps, requestSignal?: AbortSignal): void {
  const { sql, logger, webUrl } = deps;
  const recheckMs = deps.recheckMs ?? 5_000;
  // the operator module's writes run in transactions this opens (one per bulk batch)
  const transact: operator.Transact = deps.transact ?? ((fn) => sql.begin((tx) => fn(tx)) as never);

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
    const task = await store.createTask(sql, { title: args.title, instructions: args.instructions, input: args.input ?? {}, limits, agent: args.agent ?? null });
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

  /** The filter fields of list_reviews and resolve_reviews, as the operator module takes them. */
  const filterOf = (args: { [K in (typeof REVIEW_FILTER_FIELDS)[number]]?: unknown }): operator.ReviewFilter => {
    const filter: Record<string, unknown> = {};
    for (const key of REVIEW_FILTER_FIELDS) if (args[key] !== undefined) filter[key] = key === 'text' ? String(args[key]).trim() : args[key];
    return filter as operator.ReviewFilter;
  };

  register('listReviews', async (args) => {
    let after: operator.ReviewItem['cursor'] | undefined;
    if (args.cursor !== undefined && args.cursor !== '') {
      after = decodeKeysetCursor(args.cursor);
      if (!after) throw new ToolError('cursor is not one list_reviews gave out: pass next_cursor from the previous page unchanged, or omit cursor to start at the first page.');
    }
    const page = await operator.listReviews(sql, { filter: filterOf(args), after, limit: args.limit });
    const out: ToolOutput<'listReviews'> = {
      reviews: page.items.map((r) => ({
        review_id: r.id,
        kind: r.kind,
        created_at: r.created_at,
        error: r.error ? { ...r.error, category: typeof r.error.category === 'string' ? r.error.category : null, message: String(r.error.message ?? '') } : null,
        request: r.request,
        actions: [...operator.ACTIONS_BY_KIND[r.kind]],
        task: {
          id: r.task.id,
          title: r.task.title,
          instructions: r.task.instructions,
          status: r.task.status,
          attempt: r.task.attempt,
          max_attempts: r.task.max_attempts,
          root_task_id: r.task.root_task_id,
          agent: r.task.agent,
          url: taskUrl(webUrl, r.task.id),
        },
        aggregators: r.aggregators,
      })),
      total: page.total,
      next_cursor: page.next ?? null,
    };
    return ok('listReviews', `${out.reviews.length} of ${page.total} open review(s)${out.next_cursor ? '; more with next_cursor' : ''}.`, out);
  });

  register('resolveReview', async (args) => {
    const misplaced = (field: string, action: string) =>
      new ToolError(`${field} is only for action "${action}" (action was "${args.action}"): drop it, or use action "${action}".`);
    if (args.manual_output !== undefined && args.action !== 'manual') throw misplaced('manual_output', 'manual');
    if (args.answer !== undefined && args.action !== 'answer') throw misplaced('answer', 'answer');
    if (args.arguments !== undefined && args.action !== 'approve') throw misplaced('arguments', 'approve');
    let manualOutput: operator.ResolveRequest['manualOutput'];
    if (args.action === 'manual') {
      if (args.manual_output === undefined) throw new ToolError('action "manual" needs manual_output: the output the task should have produced, or the result of the interrupted call.');
      const parsed = parseManualOutput(args.manual_output, args.manual_format, MANUAL_OUTPUT_MAX_CHARS);
      if (!parsed.ok) throw new ToolError(parsed.error.replace('choose "Text"', 'set manual_format to "text"'));
      manualOutput = parsed.value as operator.ResolveRequest['manualOutput'];
    } else if (args.action === 'answer') {
      if (args.answer === undefined || args.answer.trim() === '') throw new ToolError('action "answer" needs answer: the reply the model gets (free text or one of the options).');
      manualOutput = { answer: args.answer };
    } else if (args.action === 'approve' && args.arguments !== undefined) {
      manualOutput = { arguments: args.arguments as Record<string, operator.ReviewRequest[string]> };
    }
    const note = args.note?.trim() ? args.note.trim() : null;
    if (args.action === 'reject' && !note) throw new ToolError('action "reject" needs note: the reason the model is given instead of the tool\'s result.');

    const outcome = await operator.resolveReview(transact, { reviewId: args.review_id, action: args.action, manualOutput, note });
    if (!outcome.ok) {
      if (outcome.kind === 'not-found') throw new ToolError(`No open review with id ${args.review_id}. list_reviews shows the open ones. (${outcome.detail})`);
      if (outcome.kind === 'already-resolved') {
        throw new ToolError(`${describeAlreadyResolved(outcome.resolved)} (${outcome.detail})`);
      }
      if (outcome.kind === 'conflict') throw new ToolError(describeConflict(outcome.detail));
      throw Object.assign(new Error(outcome.detail), { code: outcome.code });
    }
    const { review, task, aggregators } = outcome;
    const message = describeSuccess(review.action, task, aggregators);
    return ok('resolveReview', message, { review_id: review.id, kind: review.kind, action: review.action, message, task, aggregators });
  });

  register('resolveReviews', async (args) => {
    const filter = filterOf(args);
    if (Object.keys(filter).length === 0) {
      throw new ToolError(`Give at least one filter (${REVIEW_FILTER_FIELDS.join(', ')}), so a bulk action never reaches further than meant; list_reviews shows what a filter matches.`);
    }
    const note = args.note?.trim() ? args.note.trim() : null;
    if (args.action === 'reject' && !note) throw new ToolError('action "reject" needs note: the reason every model is given instead of the tool\'s result.');
    const { resolved, skipped } = await operator.resolveReviews(transact, { filter, action: args.action, note });
    const done = { retry: 'retried', abort: 'aborted', approve: 'approved', reject: 'rejected' }[args.action];
    const message =
      resolved + skipped === 0
        ? `Nothing matched: no open review fits these filters and action "${args.action}".`
        : `${plural(resolved, 'review')} ${done}${skipped ? `; ${plural(skipped, 'review')} skipped (resolved by someone else at the same moment, or no longer waiting)` : ''}.`;
    return ok('resolveReviews', message, { resolved, skipped, message });
  });

  register('cancelTask', async (args) => {
    const note = args.note?.trim() ? args.note.trim() : null;
    let result: operator.CancelOutcome;
    try {
      result = await operator.cancelTask(transact, { taskId: args.task_id, note });
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
