import { latentsOf } from '../agents/likelihood';
import { Q_LEARNING, type QLatents } from '../agents/qLearning';
import { simulateTwoStep } from '../agents/simulate';
import { checkInteger } from '../config';
import { TWO_STEP_SPEC, twoStepConfig, type TwoStepConfig, type TwoStepEpisode } from '../envs/twoStep';
import { twoStepTranscript, type TwoStepPromptOptions } from '../prompts/twoStep';
import { Rng } from '../random';
import { EXPERIMENT_FORMAT, eachExperiment, type BatchOptions, type ExperimentRecord } from './experiment';
import { sampleParams, TWO_STEP_AGENTS, type ParamRanges } from './populations';

export type TwoStepRecord = ExperimentRecord<TwoStepEpisode, QLatents, TwoStepConfig>;

export interface TwoStepBatchOptions extends BatchOptions {
  /** Opening episodes played by a uniform random policy (the paper used 7). */
  randomEpisodes: number;
  config: Partial<TwoStepConfig>;
  agents: ParamRanges;
  prompt: Partial<TwoStepPromptOptions>;
}

export const TWO_STEP_BATCH_DEFAULTS: TwoStepBatchOptions = {
  experiments: 100,
  episodes: 30,
  seed: 0,
  randomEpisodes: 7,
  config: {},
  agents: TWO_STEP_AGENTS,
  prompt: {},
};

/** Q-learning agents, one per experiment with parameters drawn from `agents`, play the two-step task. */
export function twoStepRecords(options: Partial<TwoStepBatchOptions> = {}): Generator<TwoStepRecord, void, undefined> {
  // The default random opening is shortened to fit a shorter game; an explicit one must fit.
  const episodes = options.episodes ?? TWO_STEP_BATCH_DEFAULTS.episodes;
  const o = { ...TWO_STEP_BATCH_DEFAULTS, randomEpisodes: Math.min(TWO_STEP_BATCH_DEFAULTS.randomEpisodes, episodes), ...options };
  checkInteger('experiments', o.experiments, 1);
  checkInteger('episodes', o.episodes, 1);
  checkInteger('randomEpisodes', o.randomEpisodes, 0, o.episodes);
  const config = twoStepConfig(o.config);
  return eachExperiment(o, (index, seed) => {
    const params = sampleParams(o.agents, Rng.fromSeed(seed));
    const sim = simulateTwoStep(Q_LEARNING.create(params, TWO_STEP_SPEC), {
      episodes: o.episodes,
      seed,
      config,
      randomEpisodes: o.randomEpisodes,
    });
    const [latents] = latentsOf(Q_LEARNING, params, { spec: TWO_STEP_SPEC, experiments: [sim] });
    return {
      format: EXPERIMENT_FORMAT,
      task: 'two-step',
      index,
      seed,
      agent: { model: Q_LEARNING.name, params },
      env: config,
      episodes: sim.episodes,
      transitions: sim.transitions,
      scored: sim.scored,
      transcript: twoStepTranscript(sim.episodes, o.prompt),
      latents,
    };
  });
}

/** All of twoStepRecords' experiments at once. */
export function twoStepBatch(options: Partial<TwoStepBatchOptions> = {}): TwoStepRecord[] {
  return [...twoStepRecords(options)];
}
