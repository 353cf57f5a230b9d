import { checkKnownKeys, checkNumber, checkProbability, ConfigError } from '../config';
import { Rng, type RngState } from '../random';
import { mean } from '../stats';
import type { TabularSpec, Transition } from './types';

/**
 * The two-step task (Daw et al. 2011). A first-stage choice between two options
 * leads, by a common (p) or rare (1 - p) transition, to one of two second-stage
 * states; there a choice between two options pays 1 with a probability that
 * drifts by a bounded Gaussian random walk after every episode.
 */
export interface TwoStepConfig {
  /** Probability of the common transition: option 0 -> state 0 and option 1 -> state 1. */
  commonProb: number;
  /** Standard deviation of the per-episode drift of each reward probability. */
  driftSd: number;
  /** Reward probabilities are reflected back into [min, max] after drifting. */
  rewardMin: number;
  rewardMax: number;
  /** Starting reward probabilities [state][option]; null draws them uniformly in [min, max]. */
  initialRewardProbs: number[][] | null;
}

export const TWO_STEP_DEFAULTS: TwoStepConfig = {
  commonProb: 0.7,
  driftSd: 0.025,
  rewardMin: 0.25,
  rewardMax: 0.75,
  initialRewardProbs: null,
};

/** States as learners index them: 0 is the first stage, 1 + s the second-stage state s. */
export const TWO_STEP_SPEC: TabularSpec = { nStates: 3, nActions: 2 };

export function twoStepConfig(partial: Partial<TwoStepConfig> = {}): TwoStepConfig {
  checkKnownKeys('twoStep', partial, Object.keys(TWO_STEP_DEFAULTS));
  const c = { ...TWO_STEP_DEFAULTS, ...partial };
  checkProbability('twoStep.commonProb', c.commonProb);
  checkNumber('twoStep.driftSd', c.driftSd, 0, 1);
  checkProbability('twoStep.rewardMin', c.rewardMin);
  checkProbability('twoStep.rewardMax', c.rewardMax);
  if (c.rewardMin > c.rewardMax) {
    throw new ConfigError('twoStep.rewardMin', c.rewardMin, `at most twoStep.rewardMax (${c.rewardMax})`);
  }
  if (c.initialRewardProbs !== null) {
    const p = c.initialRewardProbs;
    if (!Array.isArray(p) || p.length !== 2 || p.some((row) => !Array.isArray(row) || row.length !== 2)) {
      throw new ConfigError('twoStep.initialRewardProbs', p, 'null or a 2 x 2 array [state][option]');
    }
    p.forEach((row, s) => row.forEach((v, a) => checkProbability(`twoStep.initialRewardProbs[${s}][${a}]`, v)));
  }
  return c;
}

/** What happened in one episode. */
export interface TwoStepEpisode {
  firstAction: number;
  secondState: number;
  common: boolean;
  secondAction: number;
  reward: number;
  /** The reward probabilities in force during this episode, [state][option]. */
  rewardProbs: number[][];
}

/** The chance of treasure of the option chosen in an episode: the mean of its reward without the coin flip. */
export function expectedReward(ep: TwoStepEpisode): number {
  return ep.rewardProbs[ep.secondState][ep.secondAction];
}

/** What a uniformly random policy earns on average under an episode's reward probabilities: the mean of the four. */
export function chanceReward(ep: TwoStepEpisode): number {
  return mean(ep.rewardProbs.flat());
}

export interface TwoStepJSON {
  kind: 'two-step';
  config: TwoStepConfig;
  rewardProbs: number[][];
  stage: 1 | 2;
  pending: { firstAction: number; secondState: number; common: boolean } | null;
  episode: number;
  rng: RngState;
}

/** An interactive two-step task: alternate {@link chooseFirst} and {@link chooseSecond}. */
export class TwoStepTask {
  private constructor(
    readonly config: TwoStepConfig,
    private rewardProbs: number[][],
    private pending: TwoStepJSON['pending'],
    private episodeIndex: number,
    private readonly rng: Rng,
  ) {}

  static create(config: Partial<TwoStepConfig>, seed: number): TwoStepTask {
    const c = twoStepConfig(config);
    const rng = Rng.fromSeed(seed);
    const probs =
      c.initialRewardProbs?.map((row) => [...row]) ??
      [0, 1].map(() => [0, 1].map(() => c.rewardMin + (c.rewardMax - c.rewardMin) * rng.uniform()));
    return new TwoStepTask(c, probs, null, 0, rng);
  }

  static fromJSON(json: TwoStepJSON): TwoStepTask {
    return new TwoStepTask(
      twoStepConfig(json.config),
      json.rewardProbs.map((r) => [...r]),
      json.pending && { ...json.pending },
      json.episode,
      Rng.fromState(json.rng),
    );
  }

  toJSON(): TwoStepJSON {
    return {
      kind: 'two-step',
      config: this.config,
      rewardProbs: this.rewardProbs.map((r) => [...r]),
      stage: this.stage,
      pending: this.pending && { ...this.pending },
      episode: this.episodeIndex,
      rng: this.rng.toJSON(),
    };
  }

  get stage(): 1 | 2 {
    return this.pending === null ? 1 : 2;
  }

  /** Episodes completed so far. */
  get episode(): number {
    return this.episodeIndex;
  }

  /** The reward probabilities in force now, [state][option]. */
  get currentRewardProbs(): number[][] {
    return this.rewardProbs.map((r) => [...r]);
  }

  chooseFirst(action: number): { secondState: number; common: boolean } {
    if (this.pending !== null) throw new Error('two-step task: expected a second-stage choice');
    checkAction(action);
    const common = this.rng.bernoulli(this.config.commonProb);
    const secondState = common ? action : 1 - action;
    this.pending = { firstAction: action, secondState, common };
    return { secondState, common };
  }

  chooseSecond(action: number): TwoStepEpisode {
    if (this.pending === null) throw new Error('two-step task: expected a first-stage choice');
    checkAction(action);
    const { firstAction, secondState, common } = this.pending;
    const rewardProbs = this.currentRewardProbs;
    const reward = this.rng.bernoulli(rewardProbs[secondState][action]) ? 1 : 0;
    this.drift();
    this.pending = null;
    this.episodeIndex++;
    return { firstAction, secondState, common, secondAction: action, reward, rewardProbs };
  }

  private drift(): void {
    const { driftSd, rewardMin, rewardMax } = this.config;
    this.rewardProbs = this.rewardProbs.map((row) =>
      row.map((p) => reflect(p + this.rng.normal(0, driftSd), rewardMin, rewardMax)),
    );
  }
}

function checkAction(action: number): void {
  if (action !== 0 && action !== 1) throw new RangeError(`two-step task: action must be 0 or 1, got ${action}`);
}

/** Reflects a value into [lo, hi], as a bounded random walk does at its walls. */
export function reflect(x: number, lo: number, hi: number): number {
  if (hi === lo) return lo;
  let y = x;
  while (y < lo || y > hi) y = y < lo ? 2 * lo - y : 2 * hi - y;
  return y;
}

/** An episode as the two transitions a tabular learner sees. */
export function twoStepTransitions(ep: TwoStepEpisode): Transition[] {
  return [
    { state: 0, action: ep.firstAction, reward: 0, nextState: 1 + ep.secondState },
    { state: 1 + ep.secondState, action: ep.secondAction, reward: ep.reward, nextState: null },
  ];
}
