// kind `mcp`: a remote MCP server over Streamable HTTP, through the official SDK's client. config: `url`,
// `headers` (e.g. `{"Authorization": "Bearer {{NAME}}"}`), `allowed_tools` (names; absent: all). The
// server's tools/list gives the tools and their input schemas; the model sees each as `<slug>__<name>`.
// One connection per run, opened when the run starts and closed when it ends. The model gets
// `{content, structured?, truncated}`: the text parts of the answer, cut to max_output_bytes; an answer
// with isError is a tool error.
// Where the types are, named for Deno 2.1 (the edge runtime's line): it appends `.d.ts` to the path the SDK's
// wildcard export gives, so `client/index.js` would mean `index.js.d.ts`, which does not exist. The version is
// the import map's; a stale one fails `deno check --frozen` in tests/process-task/edge-runtime-deno.test.ts.
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/client/index"
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/client/streamableHttp"
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { abortReason, callSignal, configOf, timeoutMsOf, ToolConfigError, type ExternalTool, type ObjectSchema, type ToolKind } from './kind.ts';
import { capText, capValue } from './output-cap.ts';
import { fillHeaders, secretScope } from './secrets.ts';

/** What providers accept as a tool name (OpenAI: ^[a-zA-Z0-9_-]{1,64}$). */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const CLIENT_INFO = { name: 'taskweave-process-task', version: '0.3.3' };

type ContentPart = { type: string; text?: string; [key: string]: unknown };

function textOf(content: ContentPart[]): string {
  return content
    .map((part) => (part.type === 'text' && typeof part.text === 'string' ? part.text : `[${part.type} content]`))
    .join('\n');
}

export const mcpKind: ToolKind = {
  async open(definition, ports, runSignal) {
    const config = configOf(definition);
    const secrets = secretScope(definition, ports);
    const allowed = Array.isArray(config.allowed_tools) ? new Set(config.allowed_tools.map(String)) : undefined;
    let url: URL;
    try {
      url = new URL(secrets.fill(String(config.url ?? '')));
    } catch (error) {
      if (error instanceof ToolConfigError) throw error;
      throw new ToolConfigError(`config.url of tool ${definition.slug} is not a URL`);
    }
    const transport = new StreamableHTTPClientTransport(url, {
      requestInit: { headers: fillHeaders(config.headers, secrets) },
      fetch: ports.fetch,
      redirectPolicy: 'same-origin',
    });
    const client = new Client(CLIENT_INFO);
    const timeout = timeoutMsOf(definition);
    try {
      await client.connect(transport, { timeout, signal: runSignal });
      const listed: ExternalTool[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : undefined, { timeout, signal: runSignal });
        for (const t of page.tools) {
          if (allowed && !allowed.has(t.name)) continue;
          const name = `${definition.slug}__${t.name}`;
          if (!TOOL_NAME.test(name)) {
            ports.logger.warn('an MCP tool name is too long or has characters models do not accept; left out', { tool: definition.slug, name: t.name.slice(0, 100) });
            continue;
          }
          listed.push({ name, description: t.description ?? t.title ?? '', inputSchema: t.inputSchema as ObjectSchema, definition, remoteName: t.name });
        }
        cursor = page.nextCursor;
      } while (cursor && listed.length < 500);
      return {
        tools: listed,
        async call(tool, args, signal) {
          try {
            const answer = await client.callTool({ name: tool.remoteName ?? tool.name, arguments: args }, undefined, { timeout, signal: callSignal(definition, signal) });
            const content = (answer.content ?? []) as ContentPart[];
            const text = secrets.redact(textOf(content));
            if (answer.isError) return { ok: false, error: capText(text || 'the tool reported an error', definition.max_output_bytes).text };
            const structured = answer.structuredContent === undefined ? undefined : capValue(secrets.redactValue(answer.structuredContent), definition.max_output_bytes);
            const capped = capText(text, definition.max_output_bytes);
            return {
              ok: true,
              value: { content: capped.text, ...(structured ? { structured: structured.result } : {}), truncated: capped.truncated || !!structured?.truncated },
            };
          } catch (error) {
            return { ok: false, error: secrets.redact(abortReason(definition, signal, error)) };
          }
        },
        async close() {
          await client.close().catch(() => {});
        },
      };
    } catch (error) {
      await client.close().catch(() => {});
      throw new ToolConfigError(secrets.redact(`the MCP server of tool ${definition.slug} could not be reached: ${(error as Error).message}`));
    }
  },
};
