// Checks a value against a tool's JSON Schema, for the operator's edited arguments of an approval: the
// browser shows the mistakes before the round trip, and the operator module (operator.ts) checks again for
// both front doors, the web app and the MCP endpoint, before anything is resolved. The keywords tool
// schemas use (MCP tools/list, OpenAI function parameters) are checked; any other keyword is accepted
// as written, so an unusual schema never blocks an approval, it only checks less.

export type JsonSchema = { [keyword: string]: unknown } | boolean;

const MAX_ISSUES = 20;

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function fits(type: string, value: unknown): boolean {
  const actual = typeOf(value);
  return type === actual || (type === 'number' && actual === 'integer');
}

const describe = (value: unknown) => (typeof value === 'string' ? `"${value}"` : JSON.stringify(value));

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function check(schema: JsonSchema, value: unknown, path: string, issues: string[]): void {
  if (issues.length >= MAX_ISSUES) return;
  if (schema === true || schema === undefined || schema === null) return;
  if (schema === false) {
    issues.push(`${path} is not allowed`);
    return;
  }
  if (typeof schema !== 'object') return;
  const s = schema as Record<string, unknown>;

  const types = typeof s.type === 'string' ? [s.type] : Array.isArray(s.type) ? (s.type as string[]) : null;
  if (types && !types.some((t) => fits(t, value))) {
    issues.push(`${path} must be ${types.map((t) => (t === 'integer' || t === 'array' || t === 'object' ? `an ${t}` : `a ${t}`)).join(' or ')} (got ${typeOf(value)})`);
    return;
  }
  if (Array.isArray(s.enum) && !s.enum.some((option) => equal(option, value))) {
    issues.push(`${path} must be one of ${s.enum.map(describe).join(', ')}`);
  }
  if ('const' in s && !equal(s.const, value)) issues.push(`${path} must be ${describe(s.const)}`);

  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && [...value].length < s.minLength) issues.push(`${path} must be at least ${s.minLength} characters`);
    if (typeof s.maxLength === 'number' && [...value].length > s.maxLength) issues.push(`${path} must be at most ${s.maxLength} characters`);
    if (typeof s.pattern === 'string') {
      try {
        if (!new RegExp(s.pattern, 'u').test(value)) issues.push(`${path} must match the pattern ${s.pattern}`);
      } catch {
        // a pattern JavaScript cannot read is not the operator's mistake
      }
    }
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) issues.push(`${path} must be at least ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) issues.push(`${path} must be at most ${s.maximum}`);
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) issues.push(`${path} must be more than ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) issues.push(`${path} must be less than ${s.exclusiveMaximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) issues.push(`${path} must have at least ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) issues.push(`${path} must have at most ${s.maxItems} items`);
    if (s.items && typeof s.items === 'object' && !Array.isArray(s.items)) {
      value.forEach((item, i) => check(s.items as JsonSchema, item, `${path}[${i}]`, issues));
    }
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (s.properties && typeof s.properties === 'object' ? s.properties : {}) as Record<string, JsonSchema>;
    if (Array.isArray(s.required)) {
      for (const key of s.required as string[]) if (!(key in object)) issues.push(`${path}.${key} is required`);
    }
    for (const [key, item] of Object.entries(object)) {
      if (key in properties) check(properties[key], item, `${path}.${key}`, issues);
      else if (s.additionalProperties === false) issues.push(`${path}.${key} is not a known argument`);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') check(s.additionalProperties as JsonSchema, item, `${path}.${key}`, issues);
    }
  }
  if (Array.isArray(s.allOf)) for (const part of s.allOf as JsonSchema[]) check(part, value, path, issues);
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    const options = s[keyword];
    if (Array.isArray(options) && options.length > 0) {
      const passing = (options as JsonSchema[]).filter((option) => {
        const sub: string[] = [];
        check(option, value, path, sub);
        return sub.length === 0;
      }).length;
      if (keyword === 'anyOf' ? passing === 0 : passing !== 1) issues.push(`${path} must match ${keyword === 'anyOf' ? 'one of' : 'exactly one of'} the schema's alternatives`);
    }
  }
}

/** The ways a value breaks the schema, in words ("arguments.limit must be at most 20"); empty when it fits. */
export function schemaIssues(schema: JsonSchema | null | undefined, value: unknown, root = 'arguments'): string[] {
  const issues: string[] = [];
  if (schema === null || schema === undefined) return issues;
  check(schema, value, root, issues);
  return issues;
}
