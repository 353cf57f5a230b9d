import type { ChoiceLatents } from '../agents/types';
import { Rng } from '../random';
import type { TaskKind, Transition } from '../envs/types';
import type { Transcript } from '../prompts/transcript';

/** Version of the experiment record written by `icrl-lens dataset`; bump on any change of shape. */
export const EXPERIMENT_FORMAT = 'icrl-lens.experiment/1';

/**
 * One simulated experiment: who acted (or walked), what happened, the text a
 * model reads, and the generating learner's variables at every answer point.
 * `transitions[i]`, `latents[i]` and `transcript.spans[i]` describe the same step.
 */
export interface ExperimentRecord<Episode = unknown, Latents extends ChoiceLatents = ChoiceLatents, Env = unknown> {
  format: typeof EXPERIMENT_FORMAT;
  task: TaskKind;
  /** Index of the experiment within its batch. */
  index: number;
  /** Seed this experiment was simulated from (derived from the batch seed). */
  seed: number;
  /** The learner whose variables are recorded (for two-step and grid, the agent that acted). */
  agent: { model: string; params: Record<string, number> };
  /** The environment's resolved configuration. */
  env: Env;
  episodes: Episode[];
  transitions: Transition[];
  /** false for steps that follow a random policy rather than the agent (the opening episodes of the two-step task). */
  scored: boolean[];
  transcript: Transcript<unknown>;
  latents: Latents[];
}

/** Options every task's batch shares. */
export interface BatchOptions {
  experiments: number;
  episodes: number;
  seed: number;
}

/**
 * Makes one record per experiment, each from its own seed: the seeds are drawn in
 * order from the batch's master seed, so experiment i is the same whatever the
 * batch's size after it. Records are made as they are read, so a batch of any
 * size can be written out one record at a time.
 */
export function* eachExperiment<T>(o: Pick<BatchOptions, 'experiments' | 'seed'>, make: (index: number, seed: number) => T): Generator<T, void, undefined> {
  const master = Rng.fromSeed(o.seed);
  for (let index = 0; index < o.experiments; index++) yield make(index, master.int(0, 0x7fffffff));
}
