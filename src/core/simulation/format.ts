import { formatComparison } from '../agents/compare';
import { formatEstimate, type Estimate } from '../stats';
import type { GraphSummary, GridSummary, TwoStepSummary } from './summary';

export type TaskSummary = TwoStepSummary | GridSummary | GraphSummary;

/** A summary as the plain text the CLI prints and the extension's output channel shows. */
export function formatSummary(s: TaskSummary): string {
  switch (s.task) {
    case 'two-step':
      return formatTwoStep(s);
    case 'grid':
      return formatGrid(s);
    case 'graph':
      return formatGraph(s);
  }
}

function params(p: Record<string, number>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${v.toPrecision(3)}`)
    .join(' ');
}

function curve(points: Estimate[]): string {
  return points.map((e) => e.mean.toFixed(2)).join(' ');
}

function formatTwoStep(s: TwoStepSummary): string {
  const after = `episodes ${s.randomEpisodes + 1}-${s.episodes}`;
  return [
    `Two-step task: ${s.experiments} experiments x ${s.episodes} episodes, first ${s.randomEpisodes} played at random`,
    `  Q-learning agents (mean true parameters ${params(s.trueParams)})`,
    `  reward per episode, ${after}: ${formatEstimate(s.agentReward)}   random policy: ${formatEstimate(s.randomReward)}`,
    `  reward per episode: ${curve(s.rewardPerEpisode)}`,
    `  P(stay) after common+rewarded ${formatEstimate(s.stay.commonRewarded, 2)}, common+unrewarded ${formatEstimate(s.stay.commonUnrewarded, 2)},`,
    `           rare+rewarded ${formatEstimate(s.stay.rareRewarded, 2)}, rare+unrewarded ${formatEstimate(s.stay.rareUnrewarded, 2)}`,
    `  models fitted to the agents' choices (one shared parameter set; paper, Llama 3 70B: Q 2729, myopic 2864, repetition 5745):`,
    indent(formatComparison(s.comparison, 'text'), 4),
  ].join('\n');
}

function formatGrid(s: GridSummary): string {
  const p = s.prediction;
  return [
    `Grid world: ${s.experiments} experiments x ${s.episodes} episodes, Q-learning agents (mean true parameters ${params(s.trueParams)})`,
    `  steps per episode: ${curve(s.stepsPerEpisode)}`,
    `  reward found, first episode ${formatEstimate(s.successPerEpisode[0], 2)}, last ${formatEstimate(s.successPerEpisode[s.episodes - 1], 2)}`,
    `  next-action prediction by a fitted Q-learner (first 5 -> last 5 episodes):`,
    `    true rewards:     ${formatEstimate(p.trueRewards.first5)} -> ${formatEstimate(p.trueRewards.last5)}   (${params(p.trueRewards.params)})`,
    `    shuffled rewards: ${formatEstimate(p.shuffledRewards.first5)} -> ${formatEstimate(p.shuffledRewards.last5)}   (${params(p.shuffledRewards.params)})`,
  ].join('\n');
}

function formatGraph(s: GraphSummary): string {
  return [
    `Community graph: ${s.experiments} walks x ${s.episodes} episodes; accuracy ceiling ${s.ceiling.toFixed(3)}`,
    `  next-node prediction by an SR-TD learner (${params(s.learnerParams)}):`,
    `    first 5 episodes ${formatEstimate(s.first5)}, last 5 ${formatEstimate(s.last5)} (${(100 * s.fractionOfCeiling).toFixed(0)}% of the ceiling)`,
    `    per episode: ${curve(s.perEpisode)}`,
  ].join('\n');
}

function indent(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
}
