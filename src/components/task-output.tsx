// A task's output as operators read it: a model's answer ({"text": ...}) as its text, anything else as
// JSON, and an output an operator wrote by hand marked as such. The task page, the overview and the
// reviews page show a run's answer with it.
import { CollapsibleText } from '@/components/collapsible-text';
import { Badge } from '@/components/status-badge';
import { formatTimestamp, jsonToText } from '@/lib/format';

export function TaskOutput({ output, previewLines, testId = 'task-output' }: { output: unknown; previewLines?: number; testId?: string }) {
  if (output === null || output === undefined) return <p className="text-sm text-slate-500">No output yet.</p>;
  const manual = output && typeof output === 'object' && (output as Record<string, unknown>).source === 'manual' ? (output as Record<string, unknown>) : null;
  return (
    <div className="space-y-2" data-testid={testId}>
      {manual ? (
        <p className="text-xs text-slate-600">
          <Badge tone="amber">written by an operator</Badge> {String(manual.resolved_by ?? '')}
          {manual.resolved_at ? ` at ${formatTimestamp(String(manual.resolved_at))}` : ''}
        </p>
      ) : null}
      <CollapsibleText text={outputText(manual ? manual.value : output)} label="output" previewLines={previewLines} />
    </div>
  );
}

/** A model's answer ({"text": ...}) reads as its text; anything else as JSON. */
export function outputText(value: unknown): string {
  if (value && typeof value === 'object' && !Array.isArray(value) && typeof (value as { text?: unknown }).text === 'string') {
    return (value as { text: string }).text;
  }
  return jsonToText(value);
}
