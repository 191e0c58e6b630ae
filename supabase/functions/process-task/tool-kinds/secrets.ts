// Secrets of a tool: a header or URL value names one as `{{NAME}}`; the value comes from the function's
// environment (through the ToolPorts, never Deno.env here) and only for names the tool row lists in
// `secrets`. Whatever a call gives back (a result, an error, a server's echo of a header) is redacted
// of every value filled in, before it reaches the transcript, tool_calls or a log line.
import { ToolConfigError, type ToolDefinition, type ToolPorts } from './kind.ts';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export interface SecretScope {
  /** `{{NAME}}` replaced by the secret's value; throws ToolConfigError naming a secret that is not listed or not set */
  fill(template: string): string;
  /** every value filled in so far, replaced by `[secret NAME]` */
  redact(text: string): string;
  /** a JSON value with every string redacted */
  redactValue<T>(value: T): T;
}

export function secretScope(definition: ToolDefinition, ports: Pick<ToolPorts, 'secret'>): SecretScope {
  const allowed = new Set(definition.secrets ?? []);
  const used = new Map<string, string>();
  const redact = (text: string) => {
    let out = text;
    // longest first, so a secret that contains another is replaced whole
    for (const [name, value] of [...used].sort((a, b) => b[1].length - a[1].length)) {
      if (value.length > 0) out = out.split(value).join(`[secret ${name}]`);
    }
    return out;
  };
  const redactValue = <T>(value: T): T => {
    if (used.size === 0) return value;
    if (typeof value === 'string') return redact(value) as T;
    if (Array.isArray(value)) return value.map(redactValue) as T;
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [redact(k), redactValue(v)])) as T;
    }
    return value;
  };
  return {
    fill(template) {
      return template.replace(PLACEHOLDER, (_, name: string) => {
        if (!allowed.has(name)) throw new ToolConfigError(`tool ${definition.slug} refers to {{${name}}}, which is not one of its secrets`);
        const value = ports.secret(name);
        if (value === undefined || value === '') throw new ToolConfigError(`secret ${name} of tool ${definition.slug} is not set in the function's environment`);
        used.set(name, value);
        return value;
      });
    },
    redact,
    redactValue,
  };
}

/** Headers of a tool's config with their secrets filled in. */
export function fillHeaders(raw: unknown, scope: SecretScope): Record<string, string> {
  if (raw == null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ToolConfigError('config.headers must be an object of header names to values');
  return Object.fromEntries(Object.entries(raw as Record<string, unknown>).map(([name, value]) => [name, scope.fill(String(value))]));
}
