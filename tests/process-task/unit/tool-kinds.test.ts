// The pure parts of registry tools: secrets filled from the environment only for listed names and
// redacted from whatever comes back, and the output cap counted in UTF-8 bytes.
import { describe, expect, it } from 'vitest';
import { capText, capValue, readCapped } from '../../../supabase/functions/process-task/tool-kinds/output-cap.ts';
import { fillHeaders, secretScope } from '../../../supabase/functions/process-task/tool-kinds/secrets.ts';
import type { ToolDefinition } from '../../../supabase/functions/process-task/tool-kinds/kind.ts';
import { schemaIssues } from '../../../supabase/functions/process-task/loop/tool-step.ts';

const definition = (secrets: string[]): ToolDefinition => ({
  slug: 'api',
  kind: 'http',
  description: '',
  config: {},
  secrets,
  idempotent: false,
  requires_approval: false,
  timeout_seconds: 5,
  max_output_bytes: 256,
});
const env: Record<string, string> = { API_TOKEN: 's3cr3t-value', OTHER: 'other-value', EMPTY: '' };
const ports = { secret: (name: string) => env[name] };

describe('secrets of a tool', () => {
  it('fills {{NAME}} only for the names the tool lists, and redacts every filled value from what comes back', () => {
    const scope = secretScope(definition(['API_TOKEN']), ports);
    expect(fillHeaders({ Authorization: 'Bearer {{API_TOKEN}}', 'X-Plain': 'yes' }, scope)).toEqual({ Authorization: 'Bearer s3cr3t-value', 'X-Plain': 'yes' });
    expect(() => scope.fill('{{OTHER}}')).toThrow('tool api refers to {{OTHER}}, which is not one of its secrets');
    expect(scope.redact('echo: Bearer s3cr3t-value and s3cr3t-value')).toBe('echo: Bearer [secret API_TOKEN] and [secret API_TOKEN]');
    expect(scope.redactValue({ a: ['s3cr3t-value'], 's3cr3t-value': 1, n: 2 })).toEqual({ a: ['[secret API_TOKEN]'], '[secret API_TOKEN]': 1, n: 2 });
  });

  it('names a listed secret that is missing or empty in the environment, never its value', () => {
    const scope = secretScope(definition(['MISSING', 'EMPTY']), ports);
    expect(() => scope.fill('{{MISSING}}')).toThrow("secret MISSING of tool api is not set in the function's environment");
    expect(() => scope.fill('{{ EMPTY }}')).toThrow('secret EMPTY of tool api');
    // nothing filled: nothing to redact
    expect(scope.redact('other-value')).toBe('other-value');
  });
});

describe('the output cap', () => {
  it('cuts to the cap in UTF-8 bytes, marker included, never inside a character', () => {
    expect(capText('short', 256)).toEqual({ text: 'short', truncated: false, bytes: 5 });
    const cut = capText('é'.repeat(500), 256);
    expect(cut.truncated).toBe(true);
    expect(Buffer.byteLength(cut.text)).toBeLessThanOrEqual(256);
    expect(cut.text).toMatch(/^é+ …\[truncated: \d+ more bytes\]$/);
    expect(capValue({ a: 1 }, 256)).toEqual({ result: { a: 1 }, truncated: false });
    expect(capValue({ a: 'x'.repeat(1000) }, 256)).toMatchObject({ truncated: true, result: expect.stringMatching(/^\{"a":"x+ …\[truncated:/) });
  });

  it('reads no more of a body than the cap needs', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new TextEncoder().encode('y'.repeat(100)));
        if (pulled > 1000) controller.close();
      },
    });
    const read = await readCapped(body, 256);
    expect(read.truncated).toBe(true);
    expect(Buffer.byteLength(read.text)).toBeLessThanOrEqual(256);
    expect(pulled).toBeLessThan(10);
  });
});

describe('arguments against a JSON Schema', () => {
  it('names the field that does not fit', () => {
    const schema = { type: 'object', properties: { to: { type: 'string' }, n: { type: 'integer' } }, required: ['to'] };
    expect(schemaIssues(schema, { to: 'a', n: 2 })).toBeUndefined();
    expect(schemaIssues(schema, { n: 2 })).toMatch(/^to: /);
    expect(schemaIssues(schema, { to: 'a', n: 'two' })).toMatch(/^n: /);
  });
});
