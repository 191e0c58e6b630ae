// `LLM_PROVIDER=demo`: an offline, deterministic language model behind the AI SDK's LanguageModelV3
// interface, so it goes through the same loop, tools and transcript as a real provider. It reads the
// task block the loop writes into the prompt and plans a real fan-out from the task's input:
//   root        -> create_parallel_task per topic (input.topics, or three angles on the title),
//                  then create_aggregator_task over their ids, then a final answer. When the tool's
//                  description lists agents, each topic is delegated to one: the topic's own `agent`,
//                  else input.agent, else the first listed agent that is not the planner itself
//   parallel    -> with tools of its agent (MCP, HTTP, SQL), first a call of each with arguments made
//                  from its input schema and the topic; then a research note that quotes what they
//                  answered. Fails when input.simulate_failure is true (a permanent provider error: the
//                  task goes to human review) or "transient" (a retryable 503), or when the instructions
//                  contain [simulate-failure]
//   aggregator  -> a summary of the injected dependency results
import { APICallError } from 'ai';
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3Content, LanguageModelV3GenerateResult } from '@ai-sdk/provider';
import { estimateTokens, readBlock } from './context.ts';
import { BUILT_IN_TOOLS } from './tools/registry.ts';
import type { ParallelTaskResult } from './types.ts';

export const FAILURE_MARKER = '[simulate-failure]';

type Topic = { title: string; instructions?: string; simulate_failure?: boolean | 'transient'; agent?: string };
type FunctionTool = { name: string; description?: string; inputSchema: { properties?: Record<string, { type?: unknown }> } };

const BUILT_IN_NAMES = new Set(BUILT_IN_TOOLS.map((t) => t.name));

/** The function tools the prompt offers, by name. */
function toolsOf(options: LanguageModelV3CallOptions): FunctionTool[] {
  return (options.tools ?? []).filter((t) => t.type === 'function') as unknown as FunctionTool[];
}

/** The agents create_parallel_task's description lists (`- slug: what it does`), in its order. */
function delegatesOf(options: LanguageModelV3CallOptions): string[] {
  const description = toolsOf(options).find((t) => t.name === 'create_parallel_task')?.description ?? '';
  return [...description.matchAll(/^- ([a-z][a-z0-9_-]*): /gm)].map((m) => m[1]);
}

/** The slug of the agent this prompt runs as (its system prompt names it), if any. */
function ownSlug(options: LanguageModelV3CallOptions): string | undefined {
  for (const message of options.prompt) {
    if (message.role === 'system') return /^You are the agent "[^"]*" \(([^)]+)\)\./.exec(message.content)?.[1];
  }
  return undefined;
}

/** Arguments for a tool from its input schema: the topic for text, small defaults for the rest. */
function argumentsFor(tool: FunctionTool, topic: string): Record<string, unknown> {
  const properties = Object.entries(tool.inputSchema?.properties ?? {});
  if (properties.length === 0) return { topic };
  const byType: Record<string, unknown> = { string: topic, number: 3, integer: 3, boolean: true };
  return Object.fromEntries(properties.map(([name, schema]) => [name, byType[String(schema?.type)] ?? topic]));
}

const excerptOf = (value: unknown, max = 300) => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
};
type TaskBlock = { id: string; kind: 'root' | 'parallel' | 'aggregator'; input?: Record<string, unknown> };

function promptText(options: LanguageModelV3CallOptions): {
  user: string;
  toolResults: { toolCallId: string; toolName: string; output: { type: string; value: unknown } }[];
  assistantSteps: number;
} {
  let user = '';
  let assistantSteps = 0;
  const toolResults: { toolCallId: string; toolName: string; output: { type: string; value: unknown } }[] = [];
  for (const message of options.prompt) {
    if (message.role === 'user') {
      for (const part of message.content) if (part.type === 'text') user += part.text;
    } else if (message.role === 'assistant') {
      assistantSteps++;
    } else if (message.role === 'tool') {
      for (const part of message.content) {
        if (part.type === 'tool-result') toolResults.push({ toolCallId: part.toolCallId, toolName: part.toolName, output: part.output as { type: string; value: unknown } });
      }
    }
  }
  return { user, toolResults, assistantSteps };
}

function topicsOf(title: string, input: Record<string, unknown> | undefined): Topic[] {
  const raw = input?.topics;
  if (Array.isArray(raw)) {
    return raw.slice(0, 10).flatMap((t): Topic[] => {
      if (typeof t === 'string' && t.trim()) {
        return [{ title: t.replace(FAILURE_MARKER, '').trim(), simulate_failure: t.includes(FAILURE_MARKER) || undefined }];
      }
      if (t && typeof t === 'object' && typeof (t as Topic).title === 'string') return [t as Topic];
      return [];
    });
  }
  return [`Background of ${title}`, `Current state of ${title}`, `Open questions about ${title}`].map((t) => ({ title: t }));
}

const result = (content: LanguageModelV3Content[]): LanguageModelV3GenerateResult => ({
  content,
  finishReason: { unified: content.some((c) => c.type === 'tool-call') ? 'tool-calls' : 'stop', raw: undefined },
  // counted for real by doGenerate (about four characters a token, as for English with common tokenizers)
  usage: usageOf(0, 0),
  warnings: [],
});

const usageOf = (input: number, output: number): LanguageModelV3GenerateResult['usage'] => ({
  inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 },
});

export { estimateTokens };

function withUsage(options: LanguageModelV3CallOptions, answer: LanguageModelV3GenerateResult): LanguageModelV3GenerateResult {
  const prompt = JSON.stringify(options.prompt) + JSON.stringify(options.tools ?? []);
  const output = answer.content.map((c) => (c.type === 'text' ? c.text : c.type === 'tool-call' ? c.toolName + c.input : '')).join('');
  return { ...answer, usage: usageOf(estimateTokens(prompt), estimateTokens(output)) };
}

const text = (t: string): LanguageModelV3GenerateResult => result([{ type: 'text', text: t }]);

function note(topic: string, input: Record<string, unknown>): string {
  // deterministic "findings" derived from the topic, so runs are repeatable and outputs differ per topic
  let hash = 0;
  for (const ch of topic) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const angles = ['history', 'key actors', 'trade-offs', 'costs', 'risks', 'open problems', 'recent changes'];
  const picked = [angles[hash % angles.length], angles[(hash >>> 3) % angles.length], angles[(hash >>> 6) % angles.length]];
  return [
    `Research note: ${topic}`,
    ...[...new Set(picked)].map((a, i) => `${i + 1}. ${a[0].toUpperCase()}${a.slice(1)} of ${topic}: summarised from the task input (${Object.keys(input).join(', ') || 'no input'}).`),
    `Confidence: ${['low', 'medium', 'high'][hash % 3]}.`,
  ].join('\n');
}

export function createDemoModel(modelId = 'demo-planner-1'): LanguageModelV3 {
  return {
    specificationVersion: 'v3',
    provider: 'demo',
    modelId,
    supportedUrls: {},
    doGenerate(options) {
      return Promise.resolve().then(() => withUsage(options, plan(options)));
    },
    doStream() {
      return Promise.reject(new Error('the demo model does not stream; process-task uses generateText'));
    },
  };
}

/** The demo's plan for one step, from what its prompt says. */
function plan(options: LanguageModelV3CallOptions): LanguageModelV3GenerateResult {
  const { user, toolResults, assistantSteps } = promptText(options);
  const task = readBlock<TaskBlock>(user, 'task');
  const title = /^Task: (.*)$/m.exec(user)?.[1] ?? 'the task';
  if (!task) return text(`I could not find the task description in my prompt, so here is a direct answer about ${title}.`);
  const input = (task.input ?? {}) as Record<string, unknown>;

  if (task.kind === 'aggregator') {
    const deps = readBlock<ParallelTaskResult[]>(user, 'dependency_results') ?? [];
    const omitted = readBlock<{ task_id: string }[]>(user, 'omitted_dependencies') ?? [];
    const lines = deps.map((d) => {
      const who = d.completed_by === 'operator' ? ' (written by a human operator)' : '';
      const first = d.output ? d.output.split('\n')[0] : 'no output';
      return d.status === 'completed' ? `- ${d.title}${who}: ${first}` : `- ${d.title}: cancelled, no result${d.cancel_reason ? ` (${d.cancel_reason})` : ''}`;
    });
    const completed = deps.filter((d) => d.status === 'completed').length;
    return text(
      [`Summary of ${deps.length + omitted.length} results (${completed} completed):`, ...lines, ...(omitted.length ? [`(${omitted.length} results did not fit the context.)`] : [])].join('\n'),
    );
  }

  if (task.kind === 'parallel') {
    const failure = input.simulate_failure;
    const marked = user.includes(FAILURE_MARKER);
    if (failure === true || failure === 'transient' || marked) {
      const transient = failure === 'transient';
      throw new APICallError({
        message: transient ? 'demo provider is overloaded (simulated)' : 'demo provider rejected the request (simulated failure requested by the task input)',
        url: 'demo://model/generate',
        requestBodyValues: {},
        statusCode: transient ? 503 : 422,
        responseHeaders: {},
        responseBody: JSON.stringify({ error: { type: transient ? 'overloaded' : 'simulated_failure', task_id: task.id } }),
        isRetryable: transient,
      });
    }
    const topic = String(input.topic ?? title);
    const external = toolsOf(options).filter((t) => !BUILT_IN_NAMES.has(t.name));
    if (assistantSteps === 0 && external.length > 0) {
      return result(
        external.map((t, i) => ({ type: 'tool-call', toolCallId: `demo_${task.id.slice(0, 8)}_tool_${i + 1}`, toolName: t.name, input: JSON.stringify(argumentsFor(t, topic)) })),
      );
    }
    const quoted = toolResults.map((r) => `From ${r.toolName}: ${r.output.type === 'json' ? excerptOf(r.output.value) : `(error) ${excerptOf(r.output.value)}`}`);
    return text([note(topic, input), ...quoted].join('\n'));
  }

  // root: fan out, then fan in, then answer
  const topics = topicsOf(title, input);
  if (topics.length === 0) return text(`Answer to "${title}": nothing to split up, so this is answered directly.`);
  const created = toolResults.filter((r) => r.toolName === 'create_parallel_task' && r.output.type === 'json');
  const aggregator = toolResults.find((r) => r.toolName === 'create_aggregator_task');
  if (assistantSteps === 0) {
    const self = ownSlug(options);
    const listed = delegatesOf(options);
    const fallback = typeof input.agent === 'string' ? input.agent : listed.find((slug) => slug !== self);
    return result(
      topics.map((t, i) => {
        const agent = t.agent ?? fallback;
        return {
          type: 'tool-call',
          toolCallId: `demo_${task.id.slice(0, 8)}_parallel_${i + 1}`,
          toolName: 'create_parallel_task',
          input: JSON.stringify({
            title: t.title,
            instructions: t.instructions ?? `Research "${t.title}" for the task "${title}" and write a short note with your findings.`,
            input: { topic: t.title, ...(t.simulate_failure ? { simulate_failure: t.simulate_failure } : {}) },
            ...(agent ? { agent } : {}),
          }),
        };
      }),
    );
  }
  if (!aggregator && created.length > 0) {
    const ids = created.map((r) => (r.output.value as { task_id: string }).task_id);
    return result([
      {
        type: 'tool-call',
        toolCallId: `demo_${task.id.slice(0, 8)}_aggregate`,
        toolName: 'create_aggregator_task',
        input: JSON.stringify({
          title: `Combine: ${title}`,
          instructions: `Combine the ${ids.length} research notes into one answer to "${title}".`,
          dependent_task_ids: ids,
        }),
      },
    ]);
  }
  const aggregatorId = aggregator?.output.type === 'json' ? (aggregator.output.value as { task_id: string }).task_id : null;
  const failed = toolResults.filter((r) => r.output.type !== 'json').length;
  return text(
    [
      `Delegated "${title}" to ${created.length} parallel tasks${aggregatorId ? `; aggregator ${aggregatorId} will combine their results` : ''}.`,
      ...(failed ? [`${failed} tool calls were rejected.`] : []),
    ].join(' '),
  );
}
