import { checkInteger, checkKnownKeys, ConfigError } from '../config';
import type { Transition } from '../envs/types';
import { TWO_STEP_SPEC, TwoStepTask, type TwoStepConfig, type TwoStepEpisode } from '../envs/twoStep';
import { Rng } from '../random';
import type { Experiment, FitData } from './likelihood';
import { resolveParams, type ChoiceLatents, type Learner, type LearnerModel, type Params } from './types';

export interface TwoStepSimulationOptions {
  episodes: number;
  seed: number;
  config: Partial<TwoStepConfig>;
  /**
   * The first episodes are played by a uniform random policy (the paper used 7,
   * to ease exploration); the agent still learns from them, and their choices are
   * marked unscored for fitting.
   */
  randomEpisodes: number;
}

export const TWO_STEP_SIMULATION_DEFAULTS: TwoStepSimulationOptions = { episodes: 30, seed: 0, config: {}, randomEpisodes: 0 };

export function twoStepSimulationOptions(partial: Partial<TwoStepSimulationOptions> = {}): TwoStepSimulationOptions {
  checkKnownKeys('simulation', partial, Object.keys(TWO_STEP_SIMULATION_DEFAULTS));
  const o = { ...TWO_STEP_SIMULATION_DEFAULTS, ...partial };
  checkInteger('simulation.episodes', o.episodes, 0);
  checkInteger('simulation.seed', o.seed);
  checkInteger('simulation.randomEpisodes', o.randomEpisodes, 0);
  return o;
}

/** One experiment of the two-step task: its episodes, and the transitions and scoring a fit needs. */
export interface TwoStepSimulation extends Experiment {
  episodes: TwoStepEpisode[];
  transitions: Transition[];
  scored: boolean[];
}

/**
 * Lets an agent play the two-step task: in each state it samples from its
 * `probs` and learns from each transition as it happens. The task and the
 * agent's choices draw from two streams derived from the seed.
 */
export function simulateTwoStep(agent: Learner<ChoiceLatents>, options: Partial<TwoStepSimulationOptions> = {}): TwoStepSimulation {
  const o = twoStepSimulationOptions(options);
  const { nStates, nActions } = agent.spec;
  if (nStates !== TWO_STEP_SPEC.nStates || nActions !== TWO_STEP_SPEC.nActions) {
    throw new ConfigError('agent.spec', agent.spec, `the two-step spec ${JSON.stringify(TWO_STEP_SPEC)}`);
  }
  const master = Rng.fromSeed(o.seed);
  const task = TwoStepTask.create(o.config, master.int(0, 0x7fffffff));
  const choices = master.fork();
  const probs = new Float64Array(nActions);
  const choose = (state: number, random: boolean) =>
    random ? choices.int(0, nActions) : choices.categorical(agent.probs(state, probs));

  const sim: TwoStepSimulation = { episodes: [], transitions: [], scored: [] };
  for (let e = 0; e < o.episodes; e++) {
    const random = e < o.randomEpisodes;
    const first = choose(0, random);
    const { secondState } = task.chooseFirst(first);
    const firstStep: Transition = { state: 0, action: first, reward: 0, nextState: 1 + secondState };
    agent.learn(firstStep);
    const second = choose(1 + secondState, random);
    const episode = task.chooseSecond(second);
    const secondStep: Transition = { state: 1 + secondState, action: second, reward: episode.reward, nextState: null };
    agent.learn(secondStep);
    sim.episodes.push(episode);
    sim.transitions.push(firstStep, secondStep);
    sim.scored.push(!random, !random);
  }
  return sim;
}

export interface TwoStepBatchOptions extends TwoStepSimulationOptions {
  experiments: number;
}

export interface TwoStepBatch {
  /** The parameters each experiment's agent had. */
  params: Record<string, number>[];
  simulations: TwoStepSimulation[];
  /** The simulations as fitting data. */
  data: FitData;
}

/**
 * Independent experiments, each a fresh agent of the model on a fresh task.
 * `params` is fixed or chosen per experiment (e.g. a sweep); each experiment's
 * seed is drawn from a stream seeded by `seed`.
 */
export function simulateTwoStepBatch<L extends ChoiceLatents>(
  model: LearnerModel<L>,
  params: Partial<Params> | ((experiment: number) => Partial<Params>),
  options: Partial<TwoStepBatchOptions> = {},
): TwoStepBatch {
  const { experiments = 1, ...rest } = options;
  checkInteger('simulation.experiments', experiments, 1);
  const o = twoStepSimulationOptions(rest);
  const master = Rng.fromSeed(o.seed);
  const simulations: TwoStepSimulation[] = [];
  const batch: TwoStepBatch = { params: [], simulations, data: { spec: TWO_STEP_SPEC, experiments: simulations } };
  for (let i = 0; i < experiments; i++) {
    const p = resolveParams(model, typeof params === 'function' ? params(i) : params);
    const seed = master.int(0, 0x7fffffff);
    batch.params.push(p);
    batch.simulations.push(simulateTwoStep(model.create(p, TWO_STEP_SPEC), { ...o, seed }));
  }
  return batch;
}
