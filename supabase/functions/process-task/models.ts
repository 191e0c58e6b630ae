// LLM_PROVIDER -> an AI SDK language model. `openai` talks to OpenAI, or with a base URL to any
// OpenAI-compatible server (Ollama, vLLM, OpenRouter, a test double); `anthropic`; `demo` offline.
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { ModelProvider } from './ports.ts';
import { createDemoModel } from './demo-model.ts';

export const PROVIDERS = ['openai', 'anthropic', 'demo'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export interface ModelConfig {
  provider: ProviderName;
  model?: string;
  openaiApiKey?: string;
  openaiBaseUrl?: string;
  anthropicApiKey?: string;
  /** for tests and proxies */
  fetch?: typeof fetch;
}

const DEFAULT_MODELS: Record<ProviderName, string> = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-3-5-haiku-latest',
  demo: 'demo-planner-1',
};

export class ConfigError extends Error {}

export function createModelProvider(config: ModelConfig): ModelProvider {
  const modelId = config.model || DEFAULT_MODELS[config.provider];
  const label = `${config.provider}:${modelId}`;
  switch (config.provider) {
    case 'demo': {
      const model = createDemoModel(modelId);
      return { label, model: () => model };
    }
    case 'openai': {
      const official = !config.openaiBaseUrl || /^https:\/\/api\.openai\.com(\/|$)/.test(config.openaiBaseUrl);
      if (official && !config.openaiApiKey) throw new ConfigError('LLM_PROVIDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local OpenAI-compatible server)');
      if (official) {
        const model = createOpenAI({ apiKey: config.openaiApiKey, baseURL: config.openaiBaseUrl, fetch: config.fetch }).chat(modelId);
        return { label, model: () => model };
      }
      // third-party servers speak chat completions but not OpenAI's newer parameters
      const model = createOpenAICompatible({
        name: 'openai-compatible',
        baseURL: config.openaiBaseUrl!,
        apiKey: config.openaiApiKey || 'not-needed',
        fetch: config.fetch,
      }).chatModel(modelId);
      return { label, model: () => model };
    }
    case 'anthropic': {
      if (!config.anthropicApiKey) throw new ConfigError('LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY');
      const model = createAnthropic({ apiKey: config.anthropicApiKey, fetch: config.fetch })(modelId);
      return { label, model: () => model };
    }
  }
}
