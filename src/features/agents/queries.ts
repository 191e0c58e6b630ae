import 'server-only';
// Agents and tools as operators see them on /agents: the registry (taskweave.agents, tools,
// agent_tools) and each tool's recent calls (taskweave.tool_calls). Reads only, as the viewer; the
// registry changes through the SQL API (upsert_agent, upsert_tool, ...). A tool's config is shown
// without its headers: credentials are named there as {{NAME}}, but a header written by hand could
// still hold one.
import { withClaims, type Claims, type Sql, type Tx } from '../../lib/db/identity';
import type { Tables } from '../../lib/db/types';

/** How much of a call's arguments, result or error a list shows; the rest stays in the database. */
export const CALL_TEXT_PREVIEW_CHARS = 2_000;
export const RECENT_CALLS_PER_TOOL = 10;

export type AgentRow = Pick<Tables<'agents'>, 'slug' | 'name' | 'description' | 'model' | 'temperature' | 'max_output_tokens' | 'updated_at'> & {
  /** tool slugs in the definition's order */
  tools: string[];
  /** tasks running as this agent that have not ended */
  unfinished_tasks: number;
};

export type ToolCallStatus = Tables<'tool_calls'>['status'];

/** One call of a tool, with its texts cut to a preview (a result may be up to a megabyte). */
export interface ToolCallRow {
  id: number;
  task_id: string;
  task_title: string;
  tool_call_id: string;
  tool_slug: string | null;
  tool_name: string;
  status: ToolCallStatus;
  arguments_text: string;
  result_text: string | null;
  /** characters of the whole result, to say how much was cut */
  result_chars: number;
  error: string | null;
  started_at: string;
  ended_at: string | null;
  duration_ms: number | null;
}

export type ToolRow = Pick<Tables<'tools'>, 'slug' | 'kind' | 'description' | 'secrets' | 'idempotent' | 'requires_approval' | 'timeout_seconds' | 'max_output_bytes' | 'updated_at'> & {
  /** where it goes: the URL (mcp, http) or the function (sql); never its headers */
  target: string | null;
  /** the agents that may call it */
  agents: string[];
  calls_24h: number;
  failed_24h: number;
  recent_calls: ToolCallRow[];
};

export interface AgentsAndTools {
  agents: AgentRow[];
  tools: ToolRow[];
}

const callColumns = (tx: Tx, preview: number) => tx`
  c.id, c.task_id, t.title as task_title, c.tool_call_id, c.tool_slug, c.tool_name, c.status,
  left(c.arguments::text, ${preview}) as arguments_text,
  case when c.result is null then null else left(case jsonb_typeof(c.result) when 'string' then c.result #>> '{}' else c.result::text end, ${preview}) end as result_text,
  coalesce(char_length(case jsonb_typeof(c.result) when 'string' then c.result #>> '{}' else c.result::text end), 0)::int as result_chars,
  left(c.error, ${preview}) as error, c.started_at, c.ended_at, c.duration_ms`;

export async function getAgentsAndTools(sql: Sql, claims: Claims, options: { callsPerTool?: number } = {}): Promise<AgentsAndTools> {
  const perTool = Math.min(Math.max(options.callsPerTool ?? RECENT_CALLS_PER_TOOL, 1), 50);
  return withClaims(sql, claims, async (tx) => {
    const [agents, tools] = await Promise.all([
      tx<AgentRow[]>`
        select a.slug, a.name, a.description, a.model, a.temperature, a.max_output_tokens, a.updated_at,
               coalesce((select array_agg(at.tool_slug order by at.position, at.tool_slug) from taskweave.agent_tools at where at.agent_slug = a.slug), '{}') as tools,
               (select count(*)::int from taskweave.tasks t
                 where t.agent = a.slug and t.status not in ('completed', 'failed', 'cancelled')) as unfinished_tasks
        from taskweave.agents a
        order by a.slug`,
      tx<(Omit<ToolRow, 'recent_calls'> & { recent_calls: ToolCallRow[] | null })[]>`
        select tl.slug, tl.kind, tl.description, tl.secrets, tl.idempotent, tl.requires_approval, tl.timeout_seconds,
               tl.max_output_bytes, tl.updated_at,
               coalesce(tl.config ->> 'url', tl.config ->> 'function') as target,
               coalesce((select array_agg(at.agent_slug order by at.agent_slug) from taskweave.agent_tools at where at.tool_slug = tl.slug), '{}') as agents,
               stats.calls_24h, stats.failed_24h,
               (select jsonb_agg(to_jsonb(recent) order by recent.started_at desc, recent.id desc) from (
                  select ${callColumns(tx, CALL_TEXT_PREVIEW_CHARS)}
                    from taskweave.tool_calls c join taskweave.tasks t on t.id = c.task_id
                   where c.tool_slug = tl.slug
                   order by c.started_at desc, c.id desc
                   limit ${perTool}
               ) recent) as recent_calls
        from taskweave.tools tl
        cross join lateral (
          select count(*)::int as calls_24h, count(*) filter (where c.status = 'failed' or c.error is not null)::int as failed_24h
            from taskweave.tool_calls c
           where c.tool_slug = tl.slug and c.started_at > now() - interval '24 hours'
        ) stats
        order by tl.slug`,
    ]);
    return { agents, tools: tools.map((tool) => ({ ...tool, recent_calls: tool.recent_calls ?? [] })) };
  });
}

/** A task's calls of registered tools, in the order they started (the task page). */
export async function toolCallsOf(tx: Tx, taskId: string, limit = 200): Promise<ToolCallRow[]> {
  return tx<ToolCallRow[]>`
    select ${callColumns(tx, CALL_TEXT_PREVIEW_CHARS)}
      from taskweave.tool_calls c join taskweave.tasks t on t.id = c.task_id
     where c.task_id = ${taskId}
     order by c.started_at, c.id
     limit ${limit}`;
}
