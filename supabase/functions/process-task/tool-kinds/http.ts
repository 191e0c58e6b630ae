// kind `http`: one HTTP endpoint. config: `method` (GET, POST, PUT, PATCH, DELETE; default POST), `url`,
// `headers`, `input_schema` (the JSON Schema of the arguments, shown to the model). GET and DELETE send
// the arguments as query parameters, the others as a JSON body. Redirects are not followed (a secret in
// a header must not travel to another host): a 3xx is reported as it is. The model gets
// `{status, body, truncated}`: the body parsed as JSON when it is JSON and fits, else as text, and never
// more than max_output_bytes of it is read. A status of 400 or more is a tool error with the same body.
import { abortReason, callSignal, configOf, ToolConfigError, type ObjectSchema, type ToolKind } from './kind.ts';
import { readCapped } from './output-cap.ts';
import { fillHeaders, secretScope } from './secrets.ts';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const QUERY_METHODS = new Set(['GET', 'DELETE']);

/** A tool's input schema as the model is shown it; none: any object. */
export function objectSchemaOf(raw: unknown): ObjectSchema {
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && (raw as { type?: unknown }).type === 'object') return raw as ObjectSchema;
  return { type: 'object', properties: {}, additionalProperties: true };
}

export const httpKind: ToolKind = {
  async open(definition, ports) {
    const config = configOf(definition);
    const method = String(config.method ?? 'POST').toUpperCase();
    return {
      tools: [{ name: definition.slug, description: definition.description, inputSchema: objectSchemaOf(config.input_schema), definition }],
      async call(_tool, args, runSignal) {
        const secrets = secretScope(definition, ports);
        try {
          if (!(METHODS as readonly string[]).includes(method)) throw new ToolConfigError(`config.method must be one of ${METHODS.join(', ')}`);
          let url: URL;
          try {
            url = new URL(secrets.fill(String(config.url ?? '')));
          } catch (error) {
            if (error instanceof ToolConfigError) throw error;
            throw new ToolConfigError(`config.url of tool ${definition.slug} is not a URL`);
          }
          const headers = new Headers(fillHeaders(config.headers, secrets));
          let body: string | undefined;
          if (QUERY_METHODS.has(method)) {
            for (const [key, value] of Object.entries(args)) url.searchParams.set(key, typeof value === 'string' ? value : JSON.stringify(value));
          } else {
            body = JSON.stringify(args);
            if (!headers.has('content-type')) headers.set('content-type', 'application/json');
          }
          const signal = callSignal(definition, runSignal);
          const response = await ports.fetch(url, { method, headers, body, redirect: 'manual', signal });
          const read = await readCapped(response.body, definition.max_output_bytes);
          let parsed: unknown = read.text;
          if (!read.truncated && /json/i.test(response.headers.get('content-type') ?? '')) {
            try {
              parsed = JSON.parse(read.text);
            } catch {
              // a server that says JSON and sends something else: the model gets the text
            }
          }
          const value = secrets.redactValue({ status: response.status, body: parsed, truncated: read.truncated });
          if (response.status >= 400) return { ok: false, error: secrets.redact(`HTTP ${response.status}: ${typeof parsed === 'string' ? parsed : JSON.stringify(parsed)}`) };
          if (response.status >= 300) return { ok: true, value: { ...value, location: secrets.redact(response.headers.get('location') ?? '') } };
          return { ok: true, value };
        } catch (error) {
          return { ok: false, error: secrets.redact(error instanceof ToolConfigError ? error.message : abortReason(definition, runSignal, error)) };
        }
      },
      async close() {},
    };
  },
};
