// A task's transcript: model turns, tool calls and tool results, whatever shape the worker saved them
// in (AI SDK parts, OpenAI-style tool_calls, plain strings). Everything is rendered as text.
import { CollapsibleText } from '@/components/collapsible-text';
import type { TaskMessage } from '@/features/tasks/queries';
import { jsonToText } from '@/lib/format';

type Part = { kind: 'text' | 'tool-call' | 'tool-result' | 'reasoning' | 'data'; label?: string; text: string };

function partsOf(content: unknown): Part[] {
  if (typeof content === 'string') return [{ kind: 'text', text: content }];
  if (Array.isArray(content)) return content.flatMap(partOf);
  if (content && typeof content === 'object') {
    const c = content as Record<string, unknown>;
    const parts: Part[] = [];
    if (typeof c.content === 'string' || Array.isArray(c.content)) parts.push(...partsOf(c.content));
    else if (typeof c.text === 'string') parts.push({ kind: 'text', text: c.text });
    if (Array.isArray(c.tool_calls)) {
      for (const call of c.tool_calls as Record<string, unknown>[]) {
        const fn = (call.function ?? {}) as Record<string, unknown>;
        parts.push({ kind: 'tool-call', label: String(fn.name ?? call.name ?? 'tool'), text: jsonToText(fn.arguments ?? call.arguments ?? call.input) });
      }
    }
    if (parts.length > 0) return parts;
    if (c.type) return partOf(c);
  }
  return [{ kind: 'data', text: jsonToText(content) }];
}

function partOf(part: unknown): Part[] {
  if (typeof part === 'string') return [{ kind: 'text', text: part }];
  if (!part || typeof part !== 'object') return [{ kind: 'data', text: jsonToText(part) }];
  const p = part as Record<string, unknown>;
  switch (p.type) {
    case 'text':
      return [{ kind: 'text', text: String(p.text ?? '') }];
    case 'reasoning':
      return [{ kind: 'reasoning', text: String(p.text ?? '') }];
    case 'tool-call':
    case 'tool_use':
      return [{ kind: 'tool-call', label: String(p.toolName ?? p.name ?? 'tool'), text: jsonToText(p.input ?? p.args ?? p.arguments) }];
    case 'tool-result':
    case 'tool_result':
      return [{ kind: 'tool-result', label: String(p.toolName ?? p.name ?? p.tool_use_id ?? 'tool'), text: jsonToText(unwrapOutput(p.output ?? p.result ?? p.content)) }];
    default:
      return [{ kind: 'data', text: jsonToText(p) }];
  }
}

/** AI SDK tool outputs are tagged: {type: 'json' | 'text' | 'error-text' | 'error-json', value}. */
function unwrapOutput(output: unknown): unknown {
  if (output && typeof output === 'object' && 'type' in output && 'value' in output) {
    const o = output as { type: unknown; value: unknown };
    if (typeof o.type === 'string' && /^(json|text|error-text|error-json)$/.test(o.type)) return o.value;
  }
  return output;
}

const roleStyle: Record<TaskMessage['role'], string> = {
  system: 'bg-slate-200 text-slate-700',
  user: 'bg-sky-100 text-sky-900',
  assistant: 'bg-indigo-100 text-indigo-900',
  tool: 'bg-amber-100 text-amber-900',
};

export function Transcript({ messages, truncated }: { messages: TaskMessage[]; truncated: boolean }) {
  if (messages.length === 0) {
    return <p className="text-sm text-slate-500">No transcript yet: the task has not run, or it ran no model step.</p>;
  }
  return (
    <ol className="space-y-3" aria-label="Transcript">
      {truncated ? <li className="text-xs text-slate-500">Earlier messages are not shown; the newest 500 are.</li> : null}
      {messages.map((message) => (
        <li key={message.seq} className="flex gap-3">
          <span className={`mt-0.5 h-fit w-20 shrink-0 rounded px-1.5 py-0.5 text-center text-xs font-medium ${roleStyle[message.role] ?? ''}`}>
            {message.role}
          </span>
          <div className="min-w-0 flex-1 space-y-2">
            {partsOf(message.content).map((part, i) => (
              <div key={i}>
                {part.kind !== 'text' ? (
                  <p className="mb-0.5 text-xs font-medium text-slate-600">
                    {part.kind === 'tool-call' ? `calls ${part.label}` : part.kind === 'tool-result' ? `result of ${part.label}` : part.kind}
                  </p>
                ) : null}
                <CollapsibleText text={part.text} previewLines={10} label={part.kind === 'text' ? 'message' : part.kind} />
              </div>
            ))}
          </div>
        </li>
      ))}
    </ol>
  );
}
