import { latentsOf } from '../agents/likelihood';
import { Q_LEARNING, type QLatents } from '../agents/qLearning';
import { checkInteger } from '../config';
import { GridWorld, gridSpec, gridStepTransition, type GridConfig, type GridEpisode } from '../envs/gridWorld';
import { gridTranscript, type GridPromptOptions } from '../prompts/grid';
import { Rng } from '../random';
import { EXPERIMENT_FORMAT, eachExperiment, type BatchOptions, type ExperimentRecord } from './experiment';
import { GRID_AGENTS, sampleParams, type ParamRanges } from './populations';

export type GridRecord = ExperimentRecord<GridEpisode, QLatents, GridConfig>;

export interface GridBatchOptions extends BatchOptions {
  config: Partial<GridConfig>;
  agents: ParamRanges;
  /** 'shuffled' writes the control condition's transcripts (the agents and their latents are unchanged). */
  rewards: 'true' | 'shuffled';
  prompt: Partial<Omit<GridPromptOptions, 'rewards' | 'shuffleSeed'>>;
}

export const GRID_BATCH_DEFAULTS: GridBatchOptions = {
  experiments: 100,
  episodes: 30,
  seed: 0,
  config: {},
  agents: GRID_AGENTS,
  rewards: 'true',
  prompt: {},
};

/**
 * Q-learning agents, one per experiment, search a grid whose rewarded cell is
 * drawn per experiment. The latents are the agent's own, computed from the true
 * rewards whatever the transcript shows.
 */
export function gridRecords(options: Partial<GridBatchOptions> = {}): Generator<GridRecord, void, undefined> {
  const o = { ...GRID_BATCH_DEFAULTS, ...options };
  checkInteger('experiments', o.experiments, 1);
  checkInteger('episodes', o.episodes, 1);
  return eachExperiment(o, (index, seed) => {
    const rng = Rng.fromSeed(seed);
    const params = sampleParams(o.agents, rng);
    const world = GridWorld.create(o.config, rng.int(0, 0x7fffffff));
    const spec = gridSpec(world.config);
    const agent = Q_LEARNING.create(params, spec);
    const probs = new Float64Array(spec.nActions);
    const episodes = Array.from({ length: o.episodes }, () =>
      world.runEpisode(
        (cell) => rng.categorical(agent.probs(cell, probs)),
        (step) => agent.learn(gridStepTransition(step)),
      ),
    );
    const transitions = episodes.flatMap((e) => e.steps.map(gridStepTransition));
    const [latents] = latentsOf(Q_LEARNING, params, { spec, experiments: [{ transitions }] });
    const shuffleSeed = o.rewards === 'shuffled' ? rng.int(0, 0x7fffffff) : null;
    return {
      format: EXPERIMENT_FORMAT,
      task: 'grid',
      index,
      seed,
      agent: { model: Q_LEARNING.name, params },
      env: world.config,
      episodes,
      transitions,
      scored: transitions.map(() => true),
      transcript: gridTranscript(world.config, episodes, { ...o.prompt, rewards: o.rewards, shuffleSeed }),
      latents,
    };
  });
}

/** All of gridRecords' experiments at once. */
export function gridBatch(options: Partial<GridBatchOptions> = {}): GridRecord[] {
  return [...gridRecords(options)];
}
