// get_dependency_results caps what an aggregator receives, in SQL: each output at most
// dependency_output_chars, all of them together at most dependency_total_chars, and every cut says so.
import { describe, expect, it } from 'vitest';
import { injectDependencyResults } from '../../supabase/functions/process-task/context.ts';
import { TaskSchema } from '../../supabase/functions/process-task/types.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { claim, createAggregator, createRoot, setSettings } from '../helpers/tasks.ts';

const db = useTestDatabase({ settings: { max_running: 0 } });

async function completeWith(id: string, output: unknown) {
  await claim(db.sql, id, 'w');
  await db.sql`select taskweave.complete_task(${id}, 'w', ${db.sql.json(output as never)})`;
}

const modelOutput = (text: string) => ({ source: 'model', text, model: 'm', steps: 1 });

async function fanIn(outputs: unknown[], instructions = 'do it') {
  const root = await createRoot(db.sql, 'root');
  await claim(db.sql, root.id, 'w');
  const children = [];
  for (let i = 0; i < outputs.length; i++) {
    const [child] = await db.sql`select * from taskweave.create_parallel_task(${root.id}, ${'part ' + i}, ${instructions})`;
    children.push(child);
  }
  const aggregator = await createAggregator(db.sql, root.id, children.map((c) => c.id));
  for (let i = 0; i < outputs.length; i++) await completeWith(children[i].id, outputs[i]);
  const rows = await db.sql`select * from taskweave.get_dependency_results(${aggregator.id})`;
  return { children, rows };
}

describe('get_dependency_results', () => {
  it('returns outputs that fit unchanged, in the order the aggregator listed them', async () => {
    const outputs = [modelOutput('short one'), { source: 'manual', value: { verdict: 'yes' }, resolved_by: 'ada' }, 'plain text'];
    const { children, rows } = await fanIn(outputs);
    expect(rows.map((r) => r.id)).toEqual(children.map((c) => c.id));
    expect(rows.map((r) => r.output)).toEqual(outputs);
  });

  it('cuts a long output to 16,384 characters and marks the cut; its instructions too; a long input is left out', async () => {
    const long = 'x'.repeat(100_000);
    const root = await createRoot(db.sql, 'root');
    await claim(db.sql, root.id, 'w');
    const [child] = await db.sql`
      select * from taskweave.create_parallel_task(${root.id}, 'big', ${'i'.repeat(50_000)}, ${db.sql.json({ blob: 'y'.repeat(20_000) })})`;
    const aggregator = await createAggregator(db.sql, root.id, [child.id]);
    await completeWith(child.id, modelOutput(long));
    const [row] = await db.sql`select * from taskweave.get_dependency_results(${aggregator.id})`;
    expect(row.output).toEqual({ source: 'model', text: 'x'.repeat(16_384), model: 'm', steps: 1, cut: { original_chars: 100_000, kept_chars: 16_384 } });
    expect(row.instructions).toHaveLength(16_384);
    expect(row.input).toEqual({ cut: { original_chars: expect.any(Number), kept_chars: 0 } });
    // the stored task is untouched
    const [stored] = await db.sql`select length(output ->> 'text') as n from taskweave.tasks where id = ${child.id}`;
    expect(stored.n).toBe(100_000);
  });

  it('shares the total fairly: short outputs whole, the long ones split what is left', async () => {
    await setSettings(db.sql, { dependency_output_chars: 5_000, dependency_total_chars: 6_000 });
    const outputs = [modelOutput('a'.repeat(10_000)), modelOutput('b'.repeat(1_000)), { source: 'manual', value: 'c'.repeat(10_000) }, 'd'.repeat(10_000)];
    const { rows } = await fanIn(outputs);
    const text = (o: Record<string, unknown>) => String(o.text ?? o.value ?? o);
    // 1,000 whole; the other three share the 5,000 left (1,666, then 1,667 and 1,667 of what remains)
    expect(rows.map((r) => text(r.output).length)).toEqual([1_666, 1_000, 1_667, 1_667]);
    expect(rows.map((r) => r.output.cut ?? null)).toEqual([
      { original_chars: 10_000, kept_chars: 1_666 },
      null,
      { original_chars: 10_000, kept_chars: 1_667 },
      { original_chars: 10_000, kept_chars: 1_667 },
    ]);
    expect(rows[2].output).toMatchObject({ source: 'manual', value: 'c'.repeat(1_667) });
    expect(rows[3].output).toEqual({ text: 'd'.repeat(1_667), cut: { original_chars: 10_000, kept_chars: 1_667 } });
    const total = rows.reduce((sum, r) => sum + text(r.output).length, 0);
    expect(total).toBe(6_000);
    await setSettings(db.sql, { dependency_output_chars: null, dependency_total_chars: null });
  });

  it('the context builder tells the aggregator what SQL cut: truncated, with the original length', async () => {
    const { rows } = await fanIn([modelOutput('z'.repeat(40_000))]);
    const { results } = injectDependencyResults(rows.map((r) => TaskSchema.parse(r)), { perOutput: 100_000, total: 100_000 });
    expect(results[0]).toMatchObject({ truncated: true, original_length: 40_000 });
    expect(results[0].output).toHaveLength(16_384);
  });

  it('returns nothing for an unknown task or one without dependencies', async () => {
    expect(await db.sql`select * from taskweave.get_dependency_results(gen_random_uuid())`).toHaveLength(0);
    const root = await createRoot(db.sql, 'alone');
    expect(await db.sql`select * from taskweave.get_dependency_results(${root.id})`).toHaveLength(0);
  });
});
