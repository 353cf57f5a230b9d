import { jumprelu } from './jumprelu';
import { standard } from './standard';
import { topk } from './topk';
import type { SaeArchitecture } from './types';

export type { SaeArchitecture, ParamSpec, StepContext, StepResult, ArchTraining, ArchTrainingSettings } from './types';
export type { TopKConfig } from './topk';

/**
 * The registry of SAE architectures, keyed by SAELens' `architecture` string.
 * A new architecture (JumpReLU, BatchTopK) is one entry: its config keys, its
 * encoder fragment and, to train it here, its hand-derived step.
 */
export const ARCHITECTURES: Readonly<Record<string, SaeArchitecture<unknown>>> = {
  standard,
  topk,
  jumprelu,
};

export function architecture(name: string): SaeArchitecture<unknown> | undefined {
  return Object.hasOwn(ARCHITECTURES, name) ? ARCHITECTURES[name] : undefined;
}
