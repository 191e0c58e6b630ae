// The agent a run works as: its model, instructions, temperature and output cap, and its toolbox: the
// built-in tools (create_parallel_task told which agents it may delegate to) and the agent's tools from
// the registry, each row opened through its kind (an MCP server is connected and its tools listed).
// A tool row that cannot be opened (its server down, a secret not set) leaves its tools out of this run
// with a warning; the task goes on with the rest.
import { jsonSchema, tool, zodSchema, type ToolSet } from 'ai';
import { ConfigError } from '../models.ts';
import { RunError } from '../errors.ts';
import { TOOL_KINDS } from '../tool-kinds/index.ts';
import type { ExternalTool, OpenedTools, ToolPorts } from '../tool-kinds/kind.ts';
import { BUILT_IN_TOOLS } from '../tools/registry.ts';
import type { BuiltInTool, ToolCatalog } from '../tools/tool.ts';
import type { AgentDefinition } from '../types.ts';
import type { LoopRun } from './run.ts';

export interface ToolEntry {
  tool: ExternalTool;
  source: OpenedTools;
  /** its kind commits a call and its result together (TOOL_KINDS[kind].atomic) */
  atomic: boolean;
}

export interface Toolbox {
  builtIns: readonly BuiltInTool[];
  /** registry tools by the name the model calls them */
  external: Map<string, ToolEntry>;
  /** what the model is shown: schemas and descriptions, no `execute` (the loop runs every call) */
  declarations: ToolSet;
  catalog: ToolCatalog;
  close(): Promise<void>;
}

export interface RunAgent {
  definition: AgentDefinition | null;
  toolbox: Toolbox;
}

export function toolPorts(run: LoopRun): ToolPorts {
  const environment = run.deps.tools;
  return {
    fetch: environment?.fetch ?? fetch,
    secret: (name) => environment?.secret(name),
    callSqlTool: (identity, timeoutSeconds) => run.deps.store.callSqlTool(identity.taskId, identity.worker, identity.toolCallId, timeoutSeconds),
    logger: { info: (m, f) => run.log('info', m, f), warn: (m, f) => run.log('warn', m, f), error: (m, f) => run.log('error', m, f) },
  };
}

/** Load the task's agent (if any), choose the run's model and open its tools. */
export async function openAgent(run: LoopRun): Promise<RunAgent> {
  const { store, models } = run.deps;
  const slug = run.task.agent;
  const definition = slug ? await store.getAgent(slug) : null;
  if (slug && !definition) throw new RunError('internal', `the task runs as agent "${slug}", which no longer exists`, false);
  try {
    run.model = models.resolve(definition?.model ?? null);
  } catch (error) {
    if (error instanceof ConfigError) throw new RunError('model', `agent "${slug}": ${error.message}`, false);
    throw error;
  }
  const toolbox = await openToolbox(run, definition);
  return { definition, toolbox };
}

export async function openToolbox(run: LoopRun, definition: AgentDefinition | null, builtIns: readonly BuiltInTool[] = BUILT_IN_TOOLS): Promise<Toolbox> {
  const catalog: ToolCatalog = { agents: await run.deps.store.listAgents() };
  const ports = toolPorts(run);
  const opened = await Promise.all(
    (definition?.tools ?? []).map(async (row) => {
      const kind = TOOL_KINDS[row.kind];
      if (!kind) {
        run.log('warn', 'a tool of an unknown kind is left out', { tool: row.slug, kind: row.kind });
        return undefined;
      }
      try {
        return { opened: await kind.open(row, ports, run.lease), atomic: !!kind.atomic };
      } catch (error) {
        run.log('warn', 'a tool could not be opened; its tools are left out of this run', { tool: row.slug, error: (error as Error).message });
        return undefined;
      }
    }),
  );
  const external = new Map<string, ToolEntry>();
  const reserved = new Set(builtIns.map((t) => t.name));
  for (const source of opened) {
    for (const t of source?.opened.tools ?? []) {
      if (reserved.has(t.name) || external.has(t.name)) {
        run.log('warn', 'a registry tool has the name of another tool; left out', { tool: t.definition.slug, name: t.name });
        continue;
      }
      external.set(t.name, { tool: t, source: source!.opened, atomic: source!.atomic });
    }
  }
  const declarations: ToolSet = Object.fromEntries([
    ...builtIns.map((t) => [t.name, tool({ description: t.describe?.(catalog) ?? t.description, inputSchema: zodSchema(t.inputSchema) })] as const),
    ...[...external.values()].map(({ tool: t }) => [t.name, tool({ description: t.description, inputSchema: jsonSchema(t.inputSchema as Parameters<typeof jsonSchema>[0]) })] as const),
  ]);
  return {
    builtIns,
    external,
    declarations,
    catalog,
    async close() {
      await Promise.all(opened.map((o) => o?.opened.close().catch(() => {})));
    },
  };
}
