// npm run task -- "<instructions>" — submit a root task from the terminal and follow its fan-out live
// until it completes, fails, or waits for an operator (then it prints the reviews page's URL). It talks
// to the MCP endpoint (/functions/v1/mcp) with the typed client in src/client, so it needs no database
// URL: only the endpoint and its key.
//
//   npm run task -- "Compare three note-taking apps"
//   npm run task -- --topics "Obsidian,Notion,Logseq [simulate-failure]" "Compare note-taking apps"
//   npm run task -- --input '{"topics":["a","b"]}' --title "My brief" --max-tokens 20000 "Write a brief"
//   npm run task -- --follow <task-id>        follow an existing task
//   npm run task -- --cancel <task-id>        cancel a task and everything under it
// While the run waits on a question or an approval, it prints it and asks in the terminal (answer; approve,
// edit the arguments, or reject with a reason). --respond gives those decisions up front, in the order they
// are asked, for scripts and tests: approve, approve:{"arg": 1} (edited arguments), reject:<reason>,
// answer:<text> (or a number: that option), abort, skip.
// Options: --title, --topics (comma-separated), --input (JSON object), --max-tasks N, --max-tokens N,
// --deadline S (seconds; 90s, 15m, 2h also work), --max-cost USD, --agent <slug>, --no-follow, --timeout <seconds>, --note (with --cancel),
// --respond <decision> (repeatable), --no-ask (never prompt; stop at a question like at any review),
// --database-url <url> (no endpoint: the same tools run in this process against that database).
// --token <access token> (or env TASKWEAVE_ACCESS_TOKEN): act as that Supabase Auth user instead of with the
// machine key (operator tools need the operator claim; the history records the user).
// Env: TASKWEAVE_MCP_URL (default: the endpoint a running `npm run dev` or functions:serve wrote in the data
// dir, else http://127.0.0.1:54321/functions/v1/mcp), TASKWEAVE_MCP_KEY or PROCESS_TASK_SECRET or
// SUPABASE_SERVICE_ROLE_KEY (the bearer key, full power; unset, a loopback endpoint is tried with the local
// default key and then the `supabase start` stack's local secret key), TASKWEAVE_ACCESS_TOKEN, TASKWEAVE_WEB_URL.
// Exit codes: 0 completed (or cancelled with --cancel), 1 failed or cancelled, 2 bad usage, 3 waiting for
// an operator, 4 timed out, 5 the endpoint cannot be reached or refused the key.
import { createInterface } from 'node:readline/promises';
import { WEB_PORT } from './lib/local-config.ts';
import { candidateKeys, mcpEndpoint } from './lib/function-endpoint.ts';
import {
  MAX_WAIT_SECONDS,
  TaskweaveClient,
  TaskweaveConnectionError,
  TaskweaveToolError,
  type TaskView,
  type ToolInput,
  type Usage,
} from '../src/client/index.ts';

export interface Args {
  instructions?: string;
  title?: string;
  input: Record<string, unknown>;
  limits: { max_tasks?: number; max_tokens?: number; deadline_seconds?: number; max_cost_usd?: number };
  /** the slug of the agent the root runs as (--agent) */
  agent?: string;
  follow: boolean;
  followId?: string;
  cancelId?: string;
  note?: string;
  timeoutSeconds: number;
  databaseUrl?: string;
  /** a Supabase Auth user's access token: act as that user instead of with the machine key */
  accessToken?: string;
  /** decisions for the questions and approvals the run asks, in order (--respond) */
  responses: string[];
  /** prompt in the terminal when the responses run out (off with --no-ask, or when stdin is not a terminal) */
  ask: boolean;
}

export class UsageError extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function positiveInt(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) throw new UsageError(`${flag} takes a whole number of at least 1 (got ${JSON.stringify(raw)})`);
  return Number(raw);
}

function positiveDollars(flag: string, raw: string): number {
  if (!/^\d+(\.\d+)?$/.test(raw) || !(Number(raw) > 0)) throw new UsageError(`${flag} takes an amount of US dollars above 0, e.g. 2.50 (got ${JSON.stringify(raw)})`);
  return Number(raw);
}

/** "90", "90s", "15m", "2h" -> seconds */
export function parseDuration(raw: string): number {
  const m = /^(\d+)\s*(s|m|h)?$/i.exec(raw.trim());
  if (!m || Number(m[1]) < 1) throw new UsageError(`--deadline takes seconds, or a number with s, m or h (got ${JSON.stringify(raw)})`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[(m[2] ?? 's').toLowerCase()];
}

export function parseArgs(argv: string[]): Args {
  const args: Args = { input: {}, limits: {}, follow: true, timeoutSeconds: 600, responses: [], ask: true };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--title') args.title = value();
    else if (a === '--topics') args.input.topics = value().split(',').map((t) => t.trim()).filter(Boolean);
    else if (a === '--input') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value());
      } catch {
        throw new UsageError('--input must be JSON');
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('--input must be a JSON object');
      args.input = { ...args.input, ...(parsed as Record<string, unknown>) };
    } else if (a === '--max-tasks') args.limits.max_tasks = positiveInt(a, value());
    else if (a === '--max-tokens') args.limits.max_tokens = positiveInt(a, value());
    else if (a === '--deadline') args.limits.deadline_seconds = parseDuration(value());
    else if (a === '--max-cost') args.limits.max_cost_usd = positiveDollars(a, value());
    else if (a === '--agent') args.agent = value();
    else if (a === '--no-follow') args.follow = false;
    else if (a === '--follow') args.followId = value();
    else if (a === '--cancel') args.cancelId = value();
    else if (a === '--note') args.note = value();
    else if (a === '--timeout') args.timeoutSeconds = Number(value());
    else if (a === '--database-url') args.databaseUrl = value();
    else if (a === '--token') args.accessToken = value();
    else if (a === '--respond') args.responses.push(value());
    else if (a === '--no-ask') args.ask = false;
    else if (a === '--help' || a === '-h') throw new UsageError('help');
    else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else rest.push(a);
  }
  if (args.followId && args.cancelId) throw new UsageError('--follow and --cancel do not go together');
  for (const [flag, id] of [['--follow', args.followId], ['--cancel', args.cancelId]] as const) {
    if (id !== undefined && !UUID.test(id)) throw new UsageError(`${flag} takes a task id (uuid)`);
  }
  if (!args.followId && !args.cancelId) {
    args.instructions = rest.join(' ').trim();
    if (!args.instructions) throw new UsageError("give the task's instructions");
  }
  if (!Number.isFinite(args.timeoutSeconds) || args.timeoutSeconds <= 0) throw new UsageError('--timeout takes a positive number of seconds');
  for (const r of args.responses) {
    if (!RESPONSE.test(r)) throw new UsageError(`--respond takes approve, approve:{...}, reject:<reason>, answer:<text>, a number, abort or skip (got ${JSON.stringify(r)})`);
  }
  return args;
}

// ---------------------------------------------------------------------------------------------
// questions and approvals, answered in the terminal

/** A review the run waits on, as get_task lists it (open_reviews). */
export type OpenReview = TaskView['open_reviews'][number];

/** What the person decided about one question or approval. */
export type Decision =
  | { action: 'approve'; arguments?: Record<string, unknown> }
  | { action: 'reject'; note: string }
  | { action: 'answer'; answer: string }
  | { action: 'abort' }
  | { action: 'skip' };

const RESPONSE = /^(approve(:.*)?|reject:.*\S.*|answer:.*\S.*|\d+|abort|skip)$/s;

/**
 * A decision written as --respond takes it (and as the terminal prompt builds it), checked against the
 * review it answers: approve/reject fit an approval, an answer or an option number a question.
 */
export function parseDecision(raw: string, review: Pick<OpenReview, 'kind' | 'request'>): Decision | { error: string } {
  const text = raw.trim();
  if (text === 'skip') return { action: 'skip' };
  if (text === 'abort') return { action: 'abort' };
  if (review.kind === 'approval') {
    if (text === 'approve') return { action: 'approve' };
    if (text.startsWith('approve:')) {
      try {
        const parsed = JSON.parse(text.slice('approve:'.length)) as unknown;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return { action: 'approve', arguments: parsed as Record<string, unknown> };
      } catch {
        // falls through
      }
      return { error: 'the edited arguments must be a JSON object, e.g. approve:{"to": "a@example.com"}' };
    }
    if (text.startsWith('reject:') && text.slice('reject:'.length).trim()) return { action: 'reject', note: text.slice('reject:'.length).trim() };
    return { error: 'an approval takes approve, approve:{...} (edited arguments), reject:<reason>, abort or skip' };
  }
  if (review.kind === 'question') {
    const options = review.request.options ?? [];
    if (/^\d+$/.test(text)) {
      const option = options[Number(text) - 1];
      return option === undefined ? { error: `there is no option ${text} (the options are 1..${options.length})` } : { action: 'answer', answer: option };
    }
    if (text.startsWith('answer:') && text.slice('answer:'.length).trim()) return { action: 'answer', answer: text.slice('answer:'.length).trim() };
    return { error: 'a question takes answer:<text>, an option number, abort or skip' };
  }
  return { error: `a ${review.kind.replaceAll('_', ' ')} review is resolved on the reviews page or with resolve_review` };
}

/** The question or approval as the person reads it in the terminal. */
export function describeReview(review: OpenReview): string[] {
  const r = review.request;
  if (review.kind === 'question') {
    return [
      `? “${review.task_title}” asks: ${r.question ?? '(no question given)'}`,
      ...(r.options ?? []).map((o, i) => `    ${i + 1}. ${o}`),
    ];
  }
  return [
    `? “${review.task_title}” wants to call ${r.tool ?? '(a tool)'}${r.reason ? ` — ${r.reason}` : ''}`,
    `    arguments: ${JSON.stringify(r.arguments ?? {})}`,
  ];
}

/** The person's decision from the terminal, built in parseDecision's words. */
async function promptDecision(review: OpenReview): Promise<Decision> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    for (;;) {
      let raw: string;
      if (review.kind === 'question') {
        const answer = (await rl.question('  your answer (a number picks an option; "skip" leaves it; "abort" cancels the task): ')).trim();
        raw = answer === '' ? 'skip' : /^\d+$/.test(answer) || answer === 'skip' || answer === 'abort' ? answer : `answer:${answer}`;
      } else {
        const choice = (await rl.question('  [a]pprove, [e]dit the arguments, [r]eject with a reason, [s]kip, abort the task: ')).trim().toLowerCase();
        if (choice === 'a' || choice === 'approve' || choice === 'y') raw = 'approve';
        else if (choice === 'e' || choice === 'edit') raw = `approve:${(await rl.question('  arguments (a JSON object): ')).trim()}`;
        else if (choice === 'r' || choice === 'reject' || choice === 'n') raw = `reject:${(await rl.question('  the reason the agent is given: ')).trim()}`;
        else if (choice === 's' || choice === 'skip' || choice === '') raw = 'skip';
        else raw = choice;
      }
      const decision = parseDecision(raw, review);
      if (!('error' in decision)) return decision;
      console.log(`  ${decision.error}`);
    }
  } finally {
    rl.close();
  }
}

/** One line of the tree: a task as get_task shows it (a child entry, or the view itself). */
export interface Node {
  id: string;
  parent_task_id: string | null;
  title: string;
  status: string;
  kind: string;
  attempt: number;
  max_attempts: number;
  usage: Usage;
  last_error: { message?: string } | null;
  progress: { total: number; ended: number; completed: number } | null;
}

const ICON: Record<string, string> = {
  pending: '○', queued: '◌', running: '◐', needs_human_review: '⚠', completed: '●', failed: '✗', cancelled: '⊘',
};

export function bar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${total}`;
}

const num = (n: number) => n.toLocaleString('en-US');
export const tokens = (u: Usage) => `${num(u.input_tokens)} in / ${num(u.output_tokens)} out tokens`;
/** Dollars: cents above a dime, four places below (model steps cost fractions of a cent). */
export const dollars = (usd: number) => `$${usd >= 0.1 ? usd.toFixed(2) : usd.toFixed(4)}`;
const costOf = (u: Usage) => (u.cost_usd ? ` · ${dollars(u.cost_usd)}` : '');

/** The views as tree nodes: the root view and every child listed by a view. */
export function nodesOf(views: TaskView[]): Node[] {
  const nodes = new Map<string, Node>();
  for (const v of views) {
    if (!nodes.has(v.id)) nodes.set(v.id, { ...v, last_error: v.last_error });
    for (const c of v.children) if (!nodes.has(c.id)) nodes.set(c.id, { ...c, parent_task_id: v.id });
  }
  return [...nodes.values()];
}

/** The tree as lines: each task with its status and tokens; aggregators with a progress bar of their dependencies. */
export function render(nodes: Node[], rootId: string): string[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const children = new Map<string, Node[]>();
  for (const n of nodes) if (n.parent_task_id && n.id !== rootId) children.set(n.parent_task_id, [...(children.get(n.parent_task_id) ?? []), n]);
  const lines: string[] = [];
  const walk = (n: Node, prefix: string, last: boolean, top: boolean) => {
    let line = `${top ? '' : prefix + (last ? '└─ ' : '├─ ')}${ICON[n.status] ?? '?'} ${n.title}  ${n.status}`;
    if (n.attempt > 1) line += ` (attempt ${n.attempt}/${n.max_attempts})`;
    if (n.progress) line += `  ${bar(n.progress.ended, n.progress.total)} dependencies done`;
    if (n.usage.input_tokens || n.usage.output_tokens) line += `  · ${tokens(n.usage)}${costOf(n.usage)}`;
    if ((n.status === 'needs_human_review' || n.status === 'failed') && n.last_error?.message) line += `\n${prefix}${top ? '' : last ? '   ' : '│  '}   ↳ ${n.last_error.message}`;
    lines.push(line);
    const kids = children.get(n.id) ?? [];
    kids.forEach((k, i) => walk(k, top ? '' : prefix + (last ? '   ' : '│  '), i === kids.length - 1, false));
  };
  const root = byId.get(rootId);
  if (root) walk(root, '', true, true);
  return lines;
}

/** The run's usage against its limits, one line. */
export function runLine(view: TaskView, now = new Date()): string | undefined {
  const run = view.run;
  if (!run) return undefined;
  const limits: string[] = [];
  if (run.limits.max_tasks != null) limits.push(`${num(run.task_count)}/${num(run.limits.max_tasks)} tasks`);
  else limits.push(run.task_count === 1 ? '1 task' : `${num(run.task_count)} tasks`);
  if (run.limits.max_tokens != null) limits.push(`${num(run.usage.input_tokens + run.usage.output_tokens)}/${num(run.limits.max_tokens)} tokens`);
  if (run.limits.max_cost_usd != null) limits.push(`${dollars(run.usage.cost_usd ?? 0)}/${dollars(run.limits.max_cost_usd)}`);
  if (run.limits.deadline_at) {
    const left = Math.round((new Date(run.limits.deadline_at).getTime() - now.getTime()) / 1000);
    limits.push(left > 0 ? `deadline in ${left >= 120 ? `${Math.round(left / 60)} min` : `${left} s`}` : 'deadline passed');
  }
  const cost = run.limits.max_cost_usd == null && run.usage.cost_usd ? `, ${dollars(run.usage.cost_usd)}` : '';
  return `run: ${tokens(run.usage)}, ${run.usage.model_steps} model steps${cost} · ${limits.join(', ')}`;
}

const outputText = (output: unknown): string => {
  if (output && typeof output === 'object' && 'text' in output && typeof (output as { text: unknown }).text === 'string') return (output as { text: string }).text;
  return typeof output === 'string' ? output : JSON.stringify(output, null, 2);
};

/** get_task on the root, and on every child that started tasks of its own (a deeper fan-out), up to a bound. */
async function loadViews(client: TaskweaveClient, root: TaskView): Promise<TaskView[]> {
  const views = [root];
  const queue = root.children.filter((c) => c.child_count > 0).map((c) => c.id);
  while (queue.length && views.length < 50) {
    const view = await client.getTask(queue.shift()!);
    views.push(view);
    queue.push(...view.children.filter((c) => c.child_count > 0).map((c) => c.id));
  }
  return views;
}

/** A client for the endpoint, or (with --database-url) for the same tools served inside this process. */
async function connect(args: Args): Promise<{ client: TaskweaveClient; where: string; close: () => Promise<void> }> {
  if (args.databaseUrl) {
    const { connectInProcess } = await import('../src/client/in-process.ts');
    return connectInProcess(args.databaseUrl, webUrl());
  }
  const { url } = mcpEndpoint();
  // a user's access token: act as that user, never falling back on a machine key
  const accessToken = args.accessToken || process.env.TASKWEAVE_ACCESS_TOKEN || undefined;
  if (accessToken) {
    const client = await TaskweaveClient.connect({ url, accessToken, clientName: 'npm-run-task' });
    return { client, where: url, close: () => client.close() };
  }
  const keys = candidateKeys(url, process.env.TASKWEAVE_MCP_KEY || process.env.PROCESS_TASK_SECRET || process.env.SUPABASE_SERVICE_ROLE_KEY);
  if (keys.length === 0) throw new TaskweaveConnectionError('unauthorized', `${url} is not on this machine and no key is set`);
  for (const [i, secret] of keys.entries()) {
    try {
      const client = await TaskweaveClient.connect({ url, secret, clientName: 'npm-run-task' });
      return { client, where: url, close: () => client.close() };
    } catch (error) {
      // without a key of the user's, the next published local key (ours, then `supabase functions serve`'s)
      if (!(error instanceof TaskweaveConnectionError && error.reason === 'unauthorized') || i === keys.length - 1) throw error;
    }
  }
  throw new Error('unreachable');
}

const webUrl = () => (process.env.TASKWEAVE_WEB_URL || `http://127.0.0.1:${process.env.WEB_PORT || WEB_PORT}`).replace(/\/+$/, '');

/** Where the decisions come from: --respond first, then the terminal (when it is one and asking is on). */
function decider(args: Args): ((review: OpenReview) => Promise<Decision | undefined>) {
  const responses = [...args.responses];
  return async (review) => {
    const raw = responses.shift();
    if (raw !== undefined) {
      const decision = parseDecision(raw, review);
      if ('error' in decision) {
        console.log(`  --respond ${JSON.stringify(raw)}: ${decision.error}; skipped`);
        return { action: 'skip' };
      }
      return decision;
    }
    if (args.ask && process.stdin.isTTY) return promptDecision(review);
    return undefined;
  };
}

async function resolveDecision(client: TaskweaveClient, review: OpenReview, decision: Exclude<Decision, { action: 'skip' }>): Promise<void> {
  try {
    const result = await client.resolveReview({
      review_id: review.review_id,
      action: decision.action,
      ...(decision.action === 'approve' && decision.arguments ? { arguments: decision.arguments } : {}),
      ...(decision.action === 'reject' ? { note: decision.note } : {}),
      ...(decision.action === 'answer' ? { answer: decision.answer } : {}),
    });
    console.log(`  ${result.message}`);
  } catch (error) {
    // someone else decided first, or the task moved on: say so and follow on
    if (error instanceof TaskweaveToolError) console.log(`  ${error.message}`);
    else throw error;
  }
}

async function follow(client: TaskweaveClient, rootId: string, args: Args): Promise<number> {
  const { timeoutSeconds } = args;
  const tty = process.stdout.isTTY;
  let shown = 0;
  let previous = '';
  const deadline = Date.now() + timeoutSeconds * 1000;
  const decide = decider(args);
  const asked = new Set<string>();
  let view = await client.getTask(rootId);
  for (;;) {
    const views = await loadViews(client, view);
    const lines = render(nodesOf(views), rootId);
    const run = runLine(view);
    if (run) lines.push(run);
    const frame = lines.join('\n');
    if (frame !== previous) {
      if (tty && shown) process.stdout.write(`\x1b[${shown}A\x1b[J`);
      else if (!tty && previous) console.log('—');
      console.log(frame);
      shown = frame.split('\n').length;
      previous = frame;
    }
    // a question or an approval: the person decides here, and the run goes on
    const toAsk = view.open_reviews.filter((r) => (r.kind === 'question' || r.kind === 'approval') && !asked.has(r.review_id));
    let decided = false;
    for (const review of toAsk) {
      console.log(['', ...describeReview(review)].join('\n'));
      const decision = await decide(review);
      asked.add(review.review_id); // shown once, answered or not
      if (!decision) continue; // nobody to ask: it waits, as any review does
      if (decision.action !== 'skip') {
        await resolveDecision(client, review, decision);
        decided = true;
      }
      shown = 0; // the prompt sits below the last frame: draw the next one under it
      previous = '';
    }
    if (decided) {
      view = await client.getTask(rootId);
      continue;
    }
    if (view.state === 'completed') {
      console.log(`\n✔ done. Final output (${view.answer?.title ?? view.title}):\n`);
      console.log(outputText(view.answer?.output ?? view.output));
      return 0;
    }
    if (view.state === 'failed' || view.state === 'cancelled') {
      const culprit = view.status !== 'completed' ? view : views.flatMap((v) => v.children).find((c) => c.status === view.state) ?? view;
      console.log(`\n✗ the run ended: ${culprit.title} is ${culprit.status}${culprit.last_error?.message ? `: ${culprit.last_error.message}` : ''}`);
      return 1;
    }
    if (view.state === 'needs_operator') {
      // the endpoint knows where the web app is: its task URLs end in /tasks/<id>
      const reviews = view.url.replace(/\/tasks\/[^/]+$/, '/reviews');
      const kinds = new Set(view.open_reviews.map((r) => r.kind));
      const choices = kinds.size === 1 && kinds.has('failure') ? 'choose Retry, Abort or Manual' : 'decide what waits there';
      console.log(`\n⚠ waiting for an operator: open ${reviews} and ${choices}`);
      console.log(`  (or from an MCP client: list_reviews, then resolve_review; or follow it here in a terminal to answer questions and approvals).`);
      console.log(`  then follow it again: npm run task -- --follow ${rootId}`);
      return 3;
    }
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) {
      console.log(`\n… still running after ${timeoutSeconds}s; follow it again with: npm run task -- --follow ${rootId}`);
      return 4;
    }
    // the endpoint holds the call until something under the root changes (woken by NOTIFY), at most 50 s
    const waited = await client.waitForTask({ task_id: rootId, timeout_seconds: Math.min(MAX_WAIT_SECONDS, left), changed_since: view.version });
    view = waited.task;
  }
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message !== 'help') console.error(`npm run task: ${error.message}`);
    console.error('usage: npm run task -- [--title T] [--topics "a,b,c"] [--input JSON] [--max-tasks N] [--max-tokens N] [--deadline S] [--max-cost USD] [--agent SLUG]');
    console.error('                       [--no-follow] [--timeout S] [--database-url URL] [--token ACCESS_TOKEN] "<instructions>"');
    console.error('       npm run task -- --follow <task-id> [--respond approve|approve:{...}|reject:<reason>|answer:<text>|<n>|abort|skip]... [--no-ask]');
    console.error('       npm run task -- --cancel <task-id> [--note "why"]');
    return 2;
  }
  let connection: Awaited<ReturnType<typeof connect>>;
  try {
    connection = await connect(args);
  } catch (error) {
    if (error instanceof TaskweaveConnectionError) {
      console.error(`npm run task: ${error.message}.`);
      if (error.reason === 'unreachable') console.error('  Start the stack with `npm run dev` (or `npm run functions:serve`), or set TASKWEAVE_MCP_URL.');
      if (error.reason === 'unauthorized') console.error('  Set TASKWEAVE_MCP_KEY (or PROCESS_TASK_SECRET) to the key the function was started with.');
      return 5;
    }
    throw error;
  }
  const { client, where } = connection;
  try {
    if (args.cancelId) {
      const result = await client.cancelTask(args.cancelId, args.note);
      console.log(result.message);
      return 0;
    }
    let rootId = args.followId;
    if (!rootId) {
      const title = args.title ?? (args.instructions!.length > 80 ? `${args.instructions!.slice(0, 77)}…` : args.instructions!);
      const request: ToolInput<'createTask'> = { title, instructions: args.instructions!, input: args.input };
      if (Object.keys(args.limits).length) request.limits = args.limits;
      if (args.agent) request.agent = args.agent;
      const created = await client.createTask(request);
      rootId = created.task_id;
      console.log(`created root task ${rootId} via ${where}`);
      console.log(`  ${created.url}`);
      if (!args.follow) return 0;
    }
    return await follow(client, rootId, args);
  } catch (error) {
    if (error instanceof TaskweaveToolError) console.error(`npm run task: ${error.message}`);
    else console.error(`npm run task: ${(error as Error).message}`);
    return 1;
  } finally {
    await connection.close().catch(() => {});
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('scripts/task.ts')) {
  process.exitCode = await main();
}
