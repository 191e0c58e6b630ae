// The reviews page's filters, read from the URL (kind, category, run, agent, tool, age, q) and turned into
// the operator module's ReviewFilter, whose meaning SQL owns. A value that cannot be a filter is dropped
// and named, never sent to the database: a hand-edited URL shows the unfiltered list and says why.
import { z } from 'zod';
import { REVIEW_KINDS, type ReviewFilter, type ReviewKind } from '../../../supabase/functions/_shared/operator';

export type SearchParams = Record<string, string | string[] | undefined>;

/** The URL's names for the filters, in the order the form shows them. */
export const FILTER_PARAMS = ['kind', 'category', 'run', 'agent', 'tool', 'age', 'q'] as const;
export type FilterParam = (typeof FILTER_PARAMS)[number];
export type FilterValues = Partial<Record<FilterParam, string>>;

/** The ages the form offers; the URL also takes any "<n>m", "<n>h" or "<n>d". */
export const AGE_CHOICES = [
  { value: '15m', label: 'older than 15 minutes' },
  { value: '1h', label: 'older than 1 hour' },
  { value: '6h', label: 'older than 6 hours' },
  { value: '1d', label: 'older than 1 day' },
  { value: '7d', label: 'older than 7 days' },
] as const;

export const KIND_LABELS: Record<ReviewKind, string> = {
  failure: 'failure',
  approval: 'approval',
  question: 'question',
  interrupted_call: 'interrupted call',
};

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
// SQL's bound for older_than_seconds (ten years)
const MAX_AGE_SECONDS = 315_360_000;

export function ageSeconds(age: string): number | undefined {
  const m = /^(\d{1,9})([smhd])$/.exec(age);
  if (!m) return undefined;
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
  return seconds <= MAX_AGE_SECONDS ? seconds : undefined;
}

const param: { [K in FilterParam]: z.ZodType<string> } = {
  kind: z.enum(REVIEW_KINDS),
  category: z.string().regex(/^[A-Za-z0-9_.:-]{1,50}$/),
  run: z.uuid(),
  // an agent's slug (taskweave.agents)
  agent: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/),
  // the name the model called: a tool's slug, or <slug>__<name> for an MCP server's tool
  tool: z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/),
  age: z.string().refine((v) => ageSeconds(v) !== undefined),
  q: z.string().max(500),
};

export interface ParsedFilters {
  /** what the form shows and the links carry: only the values that were kept */
  values: FilterValues;
  filter: ReviewFilter;
  /** URL parameters that were present but could not be a filter */
  ignored: FilterParam[];
}

/** Filters from the URL (or a form: the bulk action posts the same names). */
export function parseFilters(params: SearchParams | FormData): ParsedFilters {
  const read = (name: string): string | undefined => {
    const raw = params instanceof FormData ? params.get(name) : params[name];
    const value = Array.isArray(raw) ? raw[0] : raw;
    return typeof value === 'string' ? value.trim() : undefined;
  };
  const values: FilterValues = {};
  const ignored: FilterParam[] = [];
  for (const name of FILTER_PARAMS) {
    const value = read(name);
    if (value === undefined || value === '') continue;
    if (param[name].safeParse(value).success) values[name] = value;
    else ignored.push(name);
  }
  const filter: ReviewFilter = {};
  if (values.kind) filter.kind = values.kind as ReviewKind;
  if (values.category) filter.category = values.category;
  if (values.run) filter.root_task_id = values.run;
  if (values.agent) filter.agent = values.agent;
  if (values.tool) filter.tool = values.tool;
  if (values.age) filter.older_than_seconds = ageSeconds(values.age);
  if (values.q) filter.text = values.q;
  return { values, filter, ignored };
}

export function hasFilters(values: FilterValues): boolean {
  return FILTER_PARAMS.some((name) => values[name]);
}

/** "/reviews?kind=approval&tool=send-email&after=…": the filters kept, plus a cursor or tab. */
export function reviewsHref(values: FilterValues, extra: Record<string, string | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const name of FILTER_PARAMS) if (values[name]) search.set(name, values[name]!);
  for (const [name, value] of Object.entries(extra)) if (value) search.set(name, value);
  const query = search.toString();
  return query ? `/reviews?${query}` : '/reviews';
}

/** The filters in words, for the bulk confirmation: "kind approval, tool send-email, older than 1 hour". */
export function describeFilters(values: FilterValues): string {
  const parts: string[] = [];
  if (values.kind) parts.push(`kind ${KIND_LABELS[values.kind as ReviewKind] ?? values.kind}`);
  if (values.category) parts.push(`category ${values.category}`);
  if (values.run) parts.push(`run ${values.run.slice(0, 8)}`);
  if (values.agent) parts.push(`agent ${values.agent}`);
  if (values.tool) parts.push(`tool ${values.tool}`);
  if (values.age) parts.push(AGE_CHOICES.find((c) => c.value === values.age)?.label ?? `older than ${values.age}`);
  if (values.q) parts.push(`text “${values.q}”`);
  return parts.length ? parts.join(', ') : 'no filter';
}
