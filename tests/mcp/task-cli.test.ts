// npm run task's pure parts: its arguments (bad usage is refused before anything is sent) and its tree.
import { describe, expect, it } from 'vitest';
import { describeReview, dollars, nodesOf, parseArgs, parseDecision, parseDuration, render, runLine, UsageError, type OpenReview } from '../../scripts/task.ts';
import type { TaskView } from '../../src/client/index.ts';

describe('npm run task arguments', () => {
  it('takes the run limits', () => {
    const args = parseArgs(['--max-tasks', '12', '--max-tokens', '5000', '--deadline', '15m', '--topics', 'a, b', 'do', 'it']);
    expect(args).toMatchObject({ instructions: 'do it', input: { topics: ['a', 'b'] }, limits: { max_tasks: 12, max_tokens: 5000, deadline_seconds: 900 } });
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('2h')).toBe(7200);
  });

  it('takes --cancel with a note, and --follow', () => {
    const id = '3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11';
    expect(parseArgs(['--cancel', id, '--note', 'why'])).toMatchObject({ cancelId: id, note: 'why' });
    expect(parseArgs(['--follow', id])).toMatchObject({ followId: id });
  });

  it('refuses what it cannot use, with a reason', () => {
    const bad: [string[], RegExp][] = [
      [['--max-tasks', '0', 'x'], /--max-tasks takes a whole number/],
      [['--max-tokens', '1.5', 'x'], /--max-tokens takes a whole number/],
      [['--deadline', 'tomorrow', 'x'], /--deadline takes seconds/],
      [['--cancel', 'abc'], /--cancel takes a task id/],
      [['--follow', '3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11', '--cancel', '3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11'], /do not go together/],
      [['--max-tasks'], /needs a value/],
      [[], /give the task's instructions/],
      [['--frobnicate', 'x'], /unknown option/],
      [['--respond', 'maybe', 'x'], /--respond takes approve/],
      [['--respond', 'reject:', 'x'], /--respond takes approve/],
    ];
    for (const [argv, message] of bad) {
      expect(() => parseArgs(argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parseArgs(argv), argv.join(' ')).toThrow(message);
    }
  });
});

describe('questions and approvals in the terminal', () => {
  const approval = { review_id: 'r1', kind: 'approval', task_id: 't1', task_title: 'Mail', error: null, request: { tool_call_id: 'c', tool: 'send_email', arguments: { to: 'a@x' }, reason: 'to tell them' } } as OpenReview;
  const question = { review_id: 'r2', kind: 'question', task_id: 't2', task_title: 'Plan', error: null, request: { tool_call_id: 'q', question: 'Which region?', options: ['eu', 'us'] } } as OpenReview;

  it('takes --respond decisions in order, and --no-ask', () => {
    expect(parseArgs(['--respond', 'approve', '--respond', 'answer:eu', '--no-ask', '--follow', '3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11'])).toMatchObject({ responses: ['approve', 'answer:eu'], ask: false });
    expect(parseArgs(['x'])).toMatchObject({ responses: [], ask: true });
  });

  it('reads a decision against the review it answers', () => {
    expect(parseDecision('approve', approval)).toEqual({ action: 'approve' });
    expect(parseDecision('approve:{"to": "b@x"}', approval)).toEqual({ action: 'approve', arguments: { to: 'b@x' } });
    expect(parseDecision('reject: not on Sundays ', approval)).toEqual({ action: 'reject', note: 'not on Sundays' });
    expect(parseDecision('abort', approval)).toEqual({ action: 'abort' });
    expect(parseDecision('skip', question)).toEqual({ action: 'skip' });
    expect(parseDecision('2', question)).toEqual({ action: 'answer', answer: 'us' });
    expect(parseDecision('answer: somewhere else', question)).toEqual({ action: 'answer', answer: 'somewhere else' });
    expect(parseDecision('approve:[1]', approval)).toEqual({ error: expect.stringContaining('JSON object') });
    expect(parseDecision('answer:eu', approval)).toEqual({ error: expect.stringContaining('an approval takes') });
    expect(parseDecision('approve', question)).toEqual({ error: expect.stringContaining('a question takes') });
    expect(parseDecision('3', question)).toEqual({ error: 'there is no option 3 (the options are 1..2)' });
  });

  it('prints what is asked: the tool, its arguments and the reason; the question and its numbered options', () => {
    expect(describeReview(approval)).toEqual(['? “Mail” wants to call send_email — to tell them', '    arguments: {"to":"a@x"}']);
    expect(describeReview(question)).toEqual(['? “Plan” asks: Which region?', '    1. eu', '    2. us']);
  });
});

describe('the follow view', () => {
  const usage = (i: number, o: number) => ({ input_tokens: i, output_tokens: o, model_steps: 1 });
  const view = {
    id: 'r', title: 'Root', status: 'completed', kind: 'root', parent_task_id: null, attempt: 1, max_attempts: 3,
    usage: usage(1200, 300), last_error: null, progress: null,
    children: [
      { id: 'a', title: 'A', status: 'completed', kind: 'parallel', attempt: 1, max_attempts: 3, usage: usage(500, 100), child_count: 0, last_error: null, progress: null },
      { id: 'b', title: 'B', status: 'needs_human_review', kind: 'parallel', attempt: 3, max_attempts: 3, usage: usage(0, 0), child_count: 0, last_error: { category: 'model', message: 'boom' }, progress: null },
      { id: 'c', title: 'Combine', status: 'queued', kind: 'aggregator', attempt: 0, max_attempts: 3, usage: usage(0, 0), child_count: 0, last_error: null, progress: { total: 2, ended: 1, completed: 1, activated_by: null } },
    ],
    run: { root_task_id: 'r', task_count: 4, usage: { input_tokens: 1700, output_tokens: 400, model_steps: 4 }, limits: { max_tasks: 10, max_tokens: 50_000, deadline_at: null } },
  } as unknown as TaskView;

  it('draws each task with its status and tokens, an aggregator with its progress, and the run against its limits', () => {
    expect(render(nodesOf([view]), 'r').join('\n').split('\n')).toEqual([
      '● Root  completed  · 1,200 in / 300 out tokens',
      '├─ ● A  completed  · 500 in / 100 out tokens',
      '├─ ⚠ B  needs_human_review (attempt 3/3)',
      '│     ↳ boom',
      '└─ ◌ Combine  queued  [██████████░░░░░░░░░░] 1/2 dependencies done',
    ]);
    expect(runLine(view)).toBe('run: 1,700 in / 400 out tokens, 4 model steps · 4/10 tasks, 2,100/50,000 tokens');
  });

  it('shows what the run cost, against its budget when it has one', () => {
    const costly = { ...view, run: { ...view.run!, usage: { ...view.run!.usage, cost_usd: 0.0123 } } } as TaskView;
    expect(runLine(costly)).toBe('run: 1,700 in / 400 out tokens, 4 model steps, $0.0123 · 4/10 tasks, 2,100/50,000 tokens');
    const budgeted = { ...costly, run: { ...costly.run!, limits: { ...costly.run!.limits, max_cost_usd: 2 } } } as TaskView;
    expect(runLine(budgeted)).toBe('run: 1,700 in / 400 out tokens, 4 model steps · 4/10 tasks, 2,100/50,000 tokens, $0.0123/$2.00');
    expect(dollars(1.5)).toBe('$1.50');
    const node = nodesOf([{ ...view, usage: { ...view.usage, cost_usd: 0.25 } } as TaskView]);
    expect(render(node, 'r')[0]).toBe('● Root  completed  · 1,200 in / 300 out tokens · $0.25');
  });
});
