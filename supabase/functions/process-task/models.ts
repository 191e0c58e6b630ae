// Models by name. The environment's model (LLM_PROVIDER, LLM_MODEL) runs tasks without an agent and
// agents without a model; an agent's `provider:model` runs on that provider with the environment's keys
// for it: `openai` talks to OpenAI, or with OPENAI_BASE_URL to any OpenAI-compatible server (Ollama,
// vLLM, OpenRouter, a test double); `anthropic` with ANTHROPIC_API_KEY; `demo` offline.
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModel } from 'ai';
import { Constants, type Database } from '../_shared/database.types.ts';
import type { ModelProvider, ResolvedModel } from './ports.ts';
import { createDemoModel } from './demo-model.ts';

/** The providers, as SQL knows them (the enum taskweave.model_provider that agents.model is checked against). */
export const PROVIDERS = Constants.taskweave.Enums.model_provider;
export type ProviderName = Database['taskweave']['Enums']['model_provider'];

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

function languageModel(config: ModelConfig, provider: ProviderName, modelId: string): LanguageModel {
  switch (provider) {
    case 'demo':
      return createDemoModel(modelId);
    case 'openai': {
      const official = !config.openaiBaseUrl || /^https:\/\/api\.openai\.com(\/|$)/.test(config.openaiBaseUrl);
      if (official && !config.openaiApiKey) throw new ConfigError('the openai provider needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local OpenAI-compatible server)');
      if (official) return createOpenAI({ apiKey: config.openaiApiKey, baseURL: config.openaiBaseUrl, fetch: config.fetch }).chat(modelId);
      // third-party servers speak chat completions but not OpenAI's newer parameters
      return createOpenAICompatible({
        name: 'openai-compatible',
        baseURL: config.openaiBaseUrl!,
        apiKey: config.openaiApiKey || 'not-needed',
        fetch: config.fetch,
      }).chatModel(modelId);
    }
    case 'anthropic':
      if (!config.anthropicApiKey) throw new ConfigError('the anthropic provider needs ANTHROPIC_API_KEY');
      return createAnthropic({ apiKey: config.anthropicApiKey, fetch: config.fetch })(modelId);
  }
}

/** `provider:model` split; a provider this function does not run is a ConfigError naming it. */
export function parseModelName(name: string): { provider: ProviderName; modelId: string } {
  const colon = name.indexOf(':');
  const provider = (colon < 0 ? '' : name.slice(0, colon)) as ProviderName;
  const modelId = colon < 0 ? '' : name.slice(colon + 1);
  if (!(PROVIDERS as readonly string[]).includes(provider) || !modelId) throw new ConfigError(`model "${name}" is not provider:model with a provider of ${PROVIDERS.join(', ')}`);
  return { provider, modelId };
}

export function createModelProvider(config: ModelConfig): ModelProvider {
  const envModelId = config.model || DEFAULT_MODELS[config.provider];
  // the environment's model fails fast at start (a missing key is a deploy mistake); an agent's model
  // only when a task runs as it (the task fails with the reason)
  const environment: ResolvedModel = { label: `${config.provider}:${envModelId}`, model: languageModel(config, config.provider, envModelId) };
  const byName = new Map<string, ResolvedModel>([[environment.label, environment]]);
  return {
    label: environment.label,
    resolve(name) {
      if (!name) return environment;
      const known = byName.get(name);
      if (known) return known;
      const { provider, modelId } = parseModelName(name);
      const resolved = { label: `${provider}:${modelId}`, model: languageModel(config, provider, modelId) };
      byName.set(name, resolved);
      return resolved;
    },
  };
}
