import type { Metadata } from 'next';
import { Badge } from '@/components/status-badge';
import { ToolCallList } from '@/components/tool-calls';
import { getAgentsAndTools, RECENT_CALLS_PER_TOOL, type AgentRow, type ToolRow } from '@/features/agents/queries';
import { requireOperator } from '@/lib/auth/viewer';
import { formatCount, plural } from '@/lib/format';
import { db } from '@/lib/server/db';

export const metadata: Metadata = { title: 'Agents and tools' };

export default async function AgentsPage() {
  const viewer = await requireOperator();
  const { agents, tools } = await getAgentsAndTools(db(), viewer.claims);
  return (
    <div className="space-y-8">
      <div>
        <h1 className="text-xl font-semibold tracking-tight">Agents and tools</h1>
        <p className="text-sm text-slate-600">
          The agents tasks run as, and the tools they may call, with each tool&apos;s recent calls. They change through the SQL API (
          <code>taskweave.upsert_agent</code>, <code>taskweave.upsert_tool</code>).
        </p>
      </div>

      <section aria-labelledby="agents-heading">
        <h2 id="agents-heading" className="mb-2 text-sm font-semibold tracking-wide text-slate-700 uppercase">
          Agents ({formatCount(agents.length)})
        </h2>
        {agents.length === 0 ? (
          <Empty>No agents yet: every task runs the environment&apos;s model. Add one with <code>select taskweave.upsert_agent(&apos;researcher&apos;, &apos;{'{'}…{'}'}&apos;)</code>.</Empty>
        ) : (
          <div className="overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
            <table className="w-full text-left text-sm" aria-label="Agents">
              <thead className="border-b border-slate-200 bg-slate-50 text-xs tracking-wide text-slate-600 uppercase">
                <tr>
                  <th scope="col" className="px-3 py-2">Slug</th>
                  <th scope="col" className="px-3 py-2">Name</th>
                  <th scope="col" className="px-3 py-2">Model</th>
                  <th scope="col" className="px-3 py-2">Tools</th>
                  <th scope="col" className="px-3 py-2">Unfinished tasks</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100 align-top">
                {agents.map((agent) => (
                  <AgentRowView key={agent.slug} agent={agent} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section aria-labelledby="tools-heading">
        <h2 id="tools-heading" className="mb-2 text-sm font-semibold tracking-wide text-slate-700 uppercase">
          Tools ({formatCount(tools.length)})
        </h2>
        {tools.length === 0 ? (
          <Empty>No tools yet: agents have only the built-in tools. Add one with <code>taskweave.upsert_tool</code>.</Empty>
        ) : (
          <ul className="space-y-4">
            {tools.map((tool) => (
              <ToolView key={tool.slug} tool={tool} />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

function AgentRowView({ agent }: { agent: AgentRow }) {
  return (
    <tr id={`agent-${agent.slug}`} data-agent={agent.slug} className="target:bg-amber-50">
      <td className="px-3 py-2 font-mono text-xs">{agent.slug}</td>
      <td className="px-3 py-2">
        <p className="font-medium">{agent.name}</p>
        {agent.description ? <p className="text-xs text-slate-600">{agent.description}</p> : null}
      </td>
      <td className="px-3 py-2 text-xs">
        <p className="font-mono">{agent.model ?? 'the environment’s model'}</p>
        <p className="text-slate-500">
          {agent.temperature !== null ? `temperature ${agent.temperature}` : 'default temperature'}
          {agent.max_output_tokens !== null ? `, at most ${formatCount(agent.max_output_tokens)} output tokens` : ''}
        </p>
      </td>
      <td className="px-3 py-2">
        {agent.tools.length === 0 ? (
          <span className="text-xs text-slate-500">built-in tools only</span>
        ) : (
          <ul className="flex flex-wrap gap-1" aria-label={`Tools of ${agent.slug}`}>
            {agent.tools.map((tool) => (
              <li key={tool}>
                <a href={`#tool-${tool}`} className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-indigo-700 hover:underline">
                  {tool}
                </a>
              </li>
            ))}
          </ul>
        )}
      </td>
      <td className="px-3 py-2 text-xs">{formatCount(agent.unfinished_tasks)}</td>
    </tr>
  );
}

function ToolView({ tool }: { tool: ToolRow }) {
  return (
    <li id={`tool-${tool.slug}`} data-tool={tool.slug} className="rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200">
      <div className="flex flex-wrap items-center gap-2">
        <h3 className="font-mono text-base font-semibold">{tool.slug}</h3>
        <Badge tone="violet">{tool.kind}</Badge>
        {tool.requires_approval ? <Badge tone="amber">requires approval</Badge> : null}
        {tool.idempotent ? <Badge>idempotent</Badge> : <Badge tone="rose">not idempotent</Badge>}
        <span className="ml-auto text-xs text-slate-600" data-testid="tool-stats">
          {plural(tool.calls_24h, 'call')} in 24 h, {plural(tool.failed_24h, 'error')}
        </span>
      </div>
      {tool.description ? <p className="mt-1 text-sm text-slate-700">{tool.description}</p> : null}
      <dl className="mt-2 flex flex-wrap gap-x-6 gap-y-1 text-xs text-slate-600">
        {tool.target ? (
          <Meta label={tool.kind === 'sql' ? 'Function' : 'URL'}>
            <code className="break-all">{tool.target}</code>
          </Meta>
        ) : null}
        <Meta label="Timeout">{tool.timeout_seconds} s</Meta>
        <Meta label="Output cap">{formatCount(tool.max_output_bytes)} bytes</Meta>
        <Meta label="Secrets">{tool.secrets.length > 0 ? tool.secrets.join(', ') : 'none'}</Meta>
        <Meta label="Agents">{tool.agents.length > 0 ? tool.agents.join(', ') : 'none'}</Meta>
      </dl>
      <details className="mt-3" open={tool.recent_calls.length > 0}>
        <summary className="cursor-pointer text-xs font-medium text-slate-700">Recent calls (the last {RECENT_CALLS_PER_TOOL})</summary>
        <div className="mt-2">
          <ToolCallList calls={tool.recent_calls} showTask empty="Not called yet." />
        </div>
      </details>
    </li>
  );
}

function Meta({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="flex gap-1.5">
      <dt className="text-slate-500">{label}</dt>
      <dd className="text-slate-800">{children}</dd>
    </div>
  );
}

function Empty({ children }: { children: React.ReactNode }) {
  return <div className="rounded-lg border-2 border-dashed border-slate-300 bg-white/60 px-6 py-8 text-center text-sm text-slate-600">{children}</div>;
}
