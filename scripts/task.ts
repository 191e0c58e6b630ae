// npm run task -- "<instructions>" — submit a root task from the terminal and follow its fan-out live
// until it completes, fails, or waits for an operator (then it prints the reviews page's URL).
//
//   npm run task -- "Compare three note-taking apps"
//   npm run task -- --topics "Obsidian,Notion,Logseq [simulate-failure]" "Compare note-taking apps"
//   npm run task -- --input '{"topics":["a","b"]}' --title "My brief" "Write a brief"
//   npm run task -- --follow <task-id>        follow an existing root task
// Options: --title, --topics (comma-separated), --input (JSON object), --no-follow, --timeout <seconds>.
// Exit codes: 0 completed, 1 failed or cancelled, 2 bad usage, 3 waiting for an operator, 4 timed out.
import postgres from 'postgres';
import { WEB_PORT, databaseUrl, redactUrl } from './lib/local-config.ts';

interface Args {
  instructions?: string;
  title?: string;
  input: Record<string, unknown>;
  follow: boolean;
  followId?: string;
  timeoutSeconds: number;
}

function usage(message: string): never {
  console.error(`npm run task: ${message}`);
  console.error('usage: npm run task -- [--title T] [--topics "a,b,c"] [--input JSON] [--no-follow] [--timeout S] "<instructions>"');
  console.error('       npm run task -- --follow <task-id>');
  process.exit(2);
}

export function parseArgs(argv: string[]): Args {
  const args: Args = { input: {}, follow: true, timeoutSeconds: 600 };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--title') args.title = value();
    else if (a === '--topics') args.input.topics = value().split(',').map((t) => t.trim()).filter(Boolean);
    else if (a === '--input') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value());
      } catch {
        usage('--input must be JSON');
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) usage('--input must be a JSON object');
      args.input = { ...args.input, ...(parsed as Record<string, unknown>) };
    } else if (a === '--no-follow') args.follow = false;
    else if (a === '--follow') args.followId = value();
    else if (a === '--timeout') args.timeoutSeconds = Number(value());
    else if (a === '--help' || a === '-h') usage('help');
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else rest.push(a);
  }
  if (!args.followId) {
    args.instructions = rest.join(' ').trim();
    if (!args.instructions) usage('give the task\'s instructions');
  } else if (!/^[0-9a-f-]{36}$/i.test(args.followId)) usage('--follow takes a task id (uuid)');
  if (!Number.isFinite(args.timeoutSeconds) || args.timeoutSeconds <= 0) usage('--timeout takes a positive number of seconds');
  return args;
}

interface Node {
  id: string;
  parent_task_id: string | null;
  title: string;
  status: string;
  is_parallel_task: boolean;
  dependent_task_ids: string[];
  attempt: number;
  max_attempts: number;
  output: unknown;
  last_error: { message?: string } | null;
  created_at: Date;
}

const ICON: Record<string, string> = {
  pending: '○', queued: '◌', running: '◐', needs_human_review: '⚠', completed: '●', failed: '✗', cancelled: '⊘',
};
const ENDED = new Set(['completed', 'cancelled']);
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export function bar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${total}`;
}

/** The tree as lines: each task with its status; aggregators with a progress bar of their dependencies. */
export function render(nodes: Node[], rootId: string): string[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const children = new Map<string, Node[]>();
  for (const n of nodes) if (n.parent_task_id) children.set(n.parent_task_id, [...(children.get(n.parent_task_id) ?? []), n]);
  const lines: string[] = [];
  const walk = (n: Node, prefix: string, last: boolean, top: boolean) => {
    const kind = n.dependent_task_ids.length ? 'aggregator' : n.is_parallel_task ? 'parallel' : 'root';
    let line = `${top ? '' : prefix + (last ? '└─ ' : '├─ ')}${ICON[n.status] ?? '?'} ${n.title}  ${n.status}`;
    if (n.attempt > 1) line += ` (attempt ${n.attempt}/${n.max_attempts})`;
    if (kind === 'aggregator') {
      const done = n.dependent_task_ids.filter((id) => ENDED.has(byId.get(id)?.status ?? '')).length;
      line += `  ${bar(done, n.dependent_task_ids.length)} dependencies done`;
    }
    if (n.status === 'needs_human_review' && n.last_error?.message) line += `\n${prefix}${last ? '   ' : '│  '}   ↳ ${n.last_error.message}`;
    lines.push(line);
    const kids = (children.get(n.id) ?? []).sort((a, b) => +a.created_at - +b.created_at);
    kids.forEach((k, i) => walk(k, top ? '' : prefix + (last ? '   ' : '│  '), i === kids.length - 1, false));
  };
  const root = byId.get(rootId);
  if (root) walk(root, '', true, true);
  return lines;
}

/** Where the run stands: still going, done (with its final output), failed, or waiting for an operator. */
export function outcome(nodes: Node[], rootId: string): { state: 'running' | 'completed' | 'failed' | 'review'; final?: Node } {
  const root = nodes.find((n) => n.id === rootId);
  if (!root) return { state: 'running' };
  const open = nodes.filter((n) => !TERMINAL.has(n.status));
  const waiting = nodes.filter((n) => n.status === 'needs_human_review');
  const active = open.filter((n) => n.status !== 'needs_human_review' && n.status !== 'queued');
  if (waiting.length && active.length === 0) return { state: 'review' };
  if (open.length) return { state: 'running' };
  if (root.status !== 'completed') return { state: 'failed', final: root };
  // the run's answer is the last aggregator to complete (the fan-in), else the root's own output
  const aggregators = nodes.filter((n) => n.dependent_task_ids.length && n.status === 'completed');
  return { state: aggregators.length || root.status === 'completed' ? 'completed' : 'failed', final: aggregators.at(-1) ?? root };
}

const outputText = (output: unknown): string => {
  if (output && typeof output === 'object' && 'text' in output && typeof (output as { text: unknown }).text === 'string') return (output as { text: string }).text;
  return typeof output === 'string' ? output : JSON.stringify(output, null, 2);
};

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const url = databaseUrl();
  const sql = postgres(url, { max: 2, onnotice: () => {}, connect_timeout: 10 });
  const webUrl = process.env.TASKWEAVE_WEB_URL || `http://127.0.0.1:${process.env.WEB_PORT || WEB_PORT}`;
  try {
    let rootId = args.followId;
    if (!rootId) {
      const title = args.title ?? (args.instructions!.length > 80 ? `${args.instructions!.slice(0, 77)}…` : args.instructions!);
      const [root] = await sql<{ id: string }[]>`select id from taskweave.create_task(${title}, ${args.instructions!}, ${sql.json(args.input as never)})`;
      rootId = root.id;
      console.log(`created root task ${rootId} in ${redactUrl(url)}`);
      console.log(`  ${webUrl}/tasks/${rootId}`);
      if (!args.follow) return;
    }
    const load = () => sql<Node[]>`
      select id, parent_task_id, title, status, is_parallel_task, dependent_task_ids, attempt, max_attempts, output, last_error, created_at
        from taskweave.tasks where root_task_id = ${rootId!} order by created_at`;

    let wake: () => void = () => {};
    await sql.listen('task_changed', (payload) => {
      try {
        if ((JSON.parse(payload) as { root_task_id?: string }).root_task_id === rootId) wake();
      } catch {
        /* not ours */
      }
    });
    const tty = process.stdout.isTTY;
    let shown = 0;
    let previous = '';
    const deadline = Date.now() + args.timeoutSeconds * 1000;
    for (;;) {
      const nodes = await load();
      if (!nodes.length) throw new Error(`task ${rootId} not found`);
      const lines = render(nodes, rootId!);
      const frame = lines.join('\n');
      if (frame !== previous) {
        if (tty && shown) process.stdout.write(`\x1b[${shown}A\x1b[J`);
        else if (!tty && previous) console.log('—');
        console.log(frame);
        shown = frame.split('\n').length;
        previous = frame;
      }
      const state = outcome(nodes, rootId!);
      if (state.state === 'completed') {
        console.log(`\n✔ done. Final output (${state.final!.title}):\n`);
        console.log(outputText(state.final!.output));
        return;
      }
      if (state.state === 'failed') {
        console.log(`\n✗ the run ended: ${state.final!.title} is ${state.final!.status}${state.final!.last_error?.message ? `: ${state.final!.last_error.message}` : ''}`);
        process.exitCode = 1;
        return;
      }
      if (state.state === 'review') {
        console.log(`\n⚠ waiting for an operator: open ${webUrl}/reviews and choose Retry, Abort or Manual.`);
        console.log(`  then follow it again: npm run task -- --follow ${rootId}`);
        process.exitCode = 3;
        return;
      }
      if (Date.now() > deadline) {
        console.log(`\n… still running after ${args.timeoutSeconds}s; follow it again with: npm run task -- --follow ${rootId}`);
        process.exitCode = 4;
        return;
      }
      // a notification wakes us at once; the timer catches anything without one (and a silent dispatcher)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        wake = () => (clearTimeout(timer), resolve());
      });
    }
  } catch (error) {
    const e = error as { code?: string; message: string };
    if (e.code === 'ECONNREFUSED') console.error(`npm run task: no database at ${redactUrl(url)}. Start the stack with \`npm run dev\` (or \`npm run db:start\`).`);
    else console.error(`npm run task: ${e.message}`);
    process.exitCode = 1;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('scripts/task.ts')) await main();
