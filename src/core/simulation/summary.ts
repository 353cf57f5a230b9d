import { compareModels, type Comparison } from '../agents/compare';
import { fitModel } from '../agents/fit';
import type { FitData } from '../agents/likelihood';
import { MYOPIC_Q_LEARNING, Q_LEARNING } from '../agents/qLearning';
import { REPETITION } from '../agents/repetition';
import type { ChoiceLatents } from '../agents/types';
import { gridSpec, gridStepTransition, shuffleGridRewards } from '../envs/gridWorld';
import { chanceReward, TWO_STEP_SPEC } from '../envs/twoStep';
import { columnEstimates, estimate, mean, type Estimate } from '../stats';
import { walkCeiling, type GraphRecord } from './graph';
import type { GridRecord } from './grid';
import type { TwoStepRecord } from './twoStep';

/** Fits in summaries use few restarts: they describe a batch, they are not the analysis. */
const FIT = { restarts: 3, seed: 0 };

export interface TwoStepSummary {
  task: 'two-step';
  experiments: number;
  episodes: number;
  randomEpisodes: number;
  /** Reward per episode (0 or 1 each), mean over experiments with 95% intervals. */
  rewardPerEpisode: Estimate[];
  /** Mean reward per episode over the episodes after the random ones, per experiment, then over experiments. */
  agentReward: Estimate;
  /** The same for a uniformly random policy on the same tasks: the mean reward probability in force. */
  randomReward: Estimate;
  /** P(repeat the first-stage choice), by the previous episode's transition and reward (Daw et al. 2011). */
  stay: { commonRewarded: Estimate; commonUnrewarded: Estimate; rareRewarded: Estimate; rareUnrewarded: Estimate };
  /** Mean of the agents' true parameters. */
  trueParams: Record<string, number>;
  comparison: Comparison;
}

export function summariseTwoStep(records: readonly TwoStepRecord[]): TwoStepSummary {
  const first = records[0];
  const randomEpisodes = first.scored.indexOf(true) < 0 ? first.episodes.length : first.scored.indexOf(true) / 2;
  const rewards = records.map((r) => r.episodes.map((e) => e.reward));
  const late = (xs: number[]) => mean(xs.slice(randomEpisodes));
  const chance = records.map((r) => late(r.episodes.map(chanceReward)));
  const stay = { commonRewarded: [] as number[], commonUnrewarded: [] as number[], rareRewarded: [] as number[], rareUnrewarded: [] as number[] };
  for (const r of records) {
    const counts = { commonRewarded: [0, 0], commonUnrewarded: [0, 0], rareRewarded: [0, 0], rareUnrewarded: [0, 0] };
    for (let e = Math.max(1, randomEpisodes); e < r.episodes.length; e++) {
      const prev = r.episodes[e - 1];
      const key = `${prev.common ? 'common' : 'rare'}${prev.reward > 0 ? 'Rewarded' : 'Unrewarded'}` as keyof typeof counts;
      counts[key][0] += r.episodes[e].firstAction === prev.firstAction ? 1 : 0;
      counts[key][1] += 1;
    }
    for (const key of Object.keys(counts) as (keyof typeof counts)[]) {
      if (counts[key][1] > 0) stay[key].push(counts[key][0] / counts[key][1]);
    }
  }
  const data: FitData = { spec: TWO_STEP_SPEC, experiments: records };
  return {
    task: 'two-step',
    experiments: records.length,
    episodes: first.episodes.length,
    randomEpisodes,
    rewardPerEpisode: columnEstimates(rewards),
    agentReward: estimate(rewards.map(late)),
    randomReward: estimate(chance),
    stay: {
      commonRewarded: estimate(stay.commonRewarded),
      commonUnrewarded: estimate(stay.commonUnrewarded),
      rareRewarded: estimate(stay.rareRewarded),
      rareUnrewarded: estimate(stay.rareUnrewarded),
    },
    trueParams: meanParams(records),
    comparison: compareModels(data, [Q_LEARNING, MYOPIC_Q_LEARNING, REPETITION], { ...FIT, criterion: 'nll' }),
  };
}

export interface GridSummary {
  task: 'grid';
  experiments: number;
  episodes: number;
  /** Steps per episode (the step limit when the reward was not found), mean over experiments. */
  stepsPerEpisode: Estimate[];
  /** Fraction of episodes that reached the reward, per episode. */
  successPerEpisode: Estimate[];
  /**
   * How well a Q-learner fitted to all agents' actions predicts each next action
   * (its most probable action), when it sees the true rewards and when it sees
   * the shuffled ones: the paper's control, for a learner instead of a model.
   */
  prediction: {
    trueRewards: { params: Record<string, number>; perEpisode: Estimate[]; first5: Estimate; last5: Estimate };
    shuffledRewards: { params: Record<string, number>; perEpisode: Estimate[]; first5: Estimate; last5: Estimate };
  };
  trueParams: Record<string, number>;
}

export function summariseGrid(records: readonly GridRecord[]): GridSummary {
  const first = records[0];
  const spec = gridSpec(first.env);
  const episodeOf = (r: GridRecord) => r.episodes.flatMap((e, i) => e.steps.map(() => i));
  const predictionUnder = (shuffled: boolean) => {
    const data: FitData = {
      spec,
      experiments: records.map((r, i) => ({
        transitions: shuffled ? shuffleGridRewards(r.episodes, i).flatMap((e) => e.steps.map(gridStepTransition)) : r.transitions,
      })),
    };
    const fit = fitModel(Q_LEARNING, data, FIT);
    const accuracy = records.map((r, i) =>
      perEpisodeAccuracy(fit.latents[i], r.transitions.map((t) => t.action), episodeOf(r), r.episodes.length),
    );
    return { params: fit.params, ...accuracySummary(accuracy) };
  };
  return {
    task: 'grid',
    experiments: records.length,
    episodes: first.episodes.length,
    stepsPerEpisode: columnEstimates(records.map((r) => r.episodes.map((e) => e.steps.length))),
    successPerEpisode: columnEstimates(records.map((r) => r.episodes.map((e) => (e.steps[e.steps.length - 1].terminal ? 1 : 0)))),
    prediction: { trueRewards: predictionUnder(false), shuffledRewards: predictionUnder(true) },
    trueParams: meanParams(records),
  };
}

export interface GraphSummary {
  task: 'graph';
  experiments: number;
  episodes: number;
  /** The best possible accuracy of next-node prediction on these walks (max_j P(s, j), averaged over the steps taken). */
  ceiling: number;
  /** Accuracy of the SR-TD learner's most probable next node, per episode. */
  perEpisode: Estimate[];
  first5: Estimate;
  last5: Estimate;
  /** last5 as a fraction of the ceiling. */
  fractionOfCeiling: number;
  learnerParams: Record<string, number>;
}

export function summariseGraph(records: readonly GraphRecord[]): GraphSummary {
  const first = records[0];
  const ceilings = records.map(walkCeiling);
  const accuracy = records.map((r) => {
    const episodeOf = r.episodes.flatMap((e, i) => e.nodes.slice(1).map(() => i));
    return perEpisodeAccuracy(r.latents, r.transitions.map((t) => t.nextState ?? -1), episodeOf, r.episodes.length);
  });
  const s = accuracySummary(accuracy);
  const ceiling = mean(ceilings);
  return {
    task: 'graph',
    experiments: records.length,
    episodes: first.episodes.length,
    ceiling,
    ...s,
    fractionOfCeiling: s.last5.mean / ceiling,
    learnerParams: first.agent.params,
  };
}

/** Per episode, the fraction of steps where the learner's most probable choice was the target (the action taken, or the next state). */
function perEpisodeAccuracy(latents: readonly ChoiceLatents[], targets: readonly number[], episodeOf: readonly number[], episodes: number): number[] {
  const hits = new Array<number>(episodes).fill(0);
  const counts = new Array<number>(episodes).fill(0);
  latents.forEach((l, i) => {
    let best = 0;
    for (let a = 1; a < l.probs.length; a++) if (l.probs[a] > l.probs[best]) best = a;
    counts[episodeOf[i]]++;
    if (best === targets[i]) hits[episodeOf[i]]++;
  });
  return hits.map((h, i) => (counts[i] > 0 ? h / counts[i] : NaN));
}

function accuracySummary(perExperiment: number[][]): { perEpisode: Estimate[]; first5: Estimate; last5: Estimate } {
  const window = (from: number, to: number) => estimate(perExperiment.map((acc) => mean(acc.slice(from, to).filter(Number.isFinite))));
  const n = perExperiment[0].length;
  return { perEpisode: columnEstimates(perExperiment), first5: window(0, 5), last5: window(Math.max(0, n - 5), n) };
}

function meanParams(records: readonly { agent: { params: Record<string, number> } }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.keys(records[0].agent.params)) out[name] = mean(records.map((r) => r.agent.params[name]));
  return out;
}
