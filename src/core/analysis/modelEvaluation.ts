import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareModels, type ComparisonRow } from '../agents/compare';
import { latentsOf } from '../agents/likelihood';
import type { ChoiceLatents, LearnerModel } from '../agents/types';
import type { Transition } from '../envs/types';
import { MYOPIC_Q_LEARNING, Q_LEARNING } from '../agents/qLearning';
import { REPETITION } from '../agents/repetition';
import { checkInteger, definedOnly } from '../config';
import { chanceReward, expectedReward, TWO_STEP_SPEC } from '../envs/twoStep';
import { OBJECT_WORDS } from '../envs/words';
import { recallTranscript } from '../prompts/recall';
import { Rng } from '../random';
import { DEFAULT_PLAY_POLICY, playTwoStep, policyName, ResidualRecorder, watchTranscripts, type AnswerPolicy, type LanguageModel, type WatchedTranscript } from '../lm';
import { ActivationStore } from '../sae/activationStore';
import { graphBatch, gridBatch, recordGraph, twoStepBatch, walkCeiling, type GraphRecord } from '../simulation';
import { columnEstimates, estimate, formatEstimate, mean, pairedDifference, type Estimate } from '../stats';
import { ridgeProbe, ridgeProbeByKind } from './probe';
import { stayProbabilities, type StayProbabilities } from './stay';
import { DETRENDED, detrend, gatherRows, targetColumn } from './targets';

/**
 * The default model's report card: does it show the paper's phenomena? Measured
 * through the runtime on fresh seeds, each figure with a 95% interval.
 */
export interface EvaluationOptions {
  experiments: number;
  episodes: number;
  /** Master seed of the evaluation's experiments; the default is not one the default model was trained on. */
  seed: number;
  randomEpisodes: number;
  /** How the model picks its answer from its next-token distribution. */
  policy: AnswerPolicy;
}

export const EVALUATION_DEFAULTS: EvaluationOptions = { experiments: 100, episodes: 30, seed: 7001, randomEpisodes: 7, policy: DEFAULT_PLAY_POLICY };

/** The probes' kinds of decision: a spaceship choice (state 0) and an alien choice (a planet). */
const FIRST_STAGE = 0;
const SECOND_STAGE = 1;

/** A per-episode measure (accuracy, or log-probability of the answer) summarised over experiments. */
export interface EpisodeSummary {
  perEpisode: Estimate[];
  first5: Estimate;
  last5: Estimate;
  /** last5 minus first5, per experiment. */
  rise: Estimate;
  /** Mean over all episodes. */
  overall: Estimate;
}

export interface ModelEvaluation {
  options: EvaluationOptions;
  twoStep: {
    /** Reward per episode after the random opening, per experiment, then over experiments. */
    modelReturn: Estimate;
    /** The same episodes' expected reward: the chance of treasure of the option the model chose (free of the coin flips). */
    modelExpectedReturn: Estimate;
    /** A random policy's expected reward on the same tasks (the mean reward probability in force). */
    randomReturn: Estimate;
    /** modelExpectedReturn minus randomReturn, paired by experiment. */
    advantage: Estimate;
    returnPerEpisode: Estimate[];
    /** Q-learning, myopic Q-learning and repetition fitted to the model's own choices, best first. */
    comparison: ComparisonRow[];
    /** Each fitted model's NLL split by decision stage (spaceship, alien), in the comparison's order: where a model wins or loses. */
    nllByStage: StageNll[];
    /** How often the model repeats its last choice, by what followed it, after the random opening. */
    stay: StayProbabilities;
    /** How well the model predicts the Q-learning agents it was trained to imitate: see {@link AgentPrediction}. */
    agentPrediction: AgentPrediction;
  };
  grid: {
    trueRewards: EpisodeSummary;
    shuffledRewards: EpisodeSummary;
    /** Accuracy with true minus with shuffled rewards, over all episodes, paired by experiment. */
    trueMinusShuffled: Estimate;
  };
  graph: {
    ceiling: number;
    accuracy: EpisodeSummary;
    /** last-five-episode accuracy as a fraction of the ceiling. */
    fractionOfCeiling: Estimate;
    /**
     * Log-probability of the node that came, per episode: it rises over the walk
     * only if the model learns the graph in context.
     */
    logProb: EpisodeSummary;
    /** What the model's most probable next node is, and how much it gives the nodes that can come. */
    predictions: GraphPredictionBreakdown;
  };
  /** Whether the model looks back in its context: see {@link RecallCheck}. */
  recall: RecallCheck;
  /**
   * Cross-validated ridge probes from each block's residual stream at the two-step
   * decision points to the Q-learner fitted to the model's choices: the TD error
   * of the step just completed (the newest outcome in the text), and the Q-value
   * difference Q(s, 1) - Q(s, 0) of the state being decided in.
   */
  probe: BlockProbe[];
}

/** A predictor's NLL of the choices after the random opening, summed over experiments, split by decision stage. */
export interface StageNll {
  model: string;
  spaceship: number;
  alien: number;
}

/**
 * The model reads the generating agents' own games (the same tasks, seed and random
 * opening as its play) and predicts each of their choices after the opening. Its NLL
 * stands beside Q-learning and repetition fitted to those choices (one parameter set
 * for all agents) and beside the agents' own learners at their true parameters, the
 * floor: no reader of the text predicts a choice better, on average, than the
 * distribution it was drawn from. A model that cannot beat the fitted Q-learner here
 * has not learnt to follow rewards the way its agents do, and its own choices will
 * not follow them either.
 */
export interface AgentPrediction {
  /** The model's, then the fitted models' (best first), then the generating learners' ('agents'). */
  nllByStage: StageNll[];
  /** The model's NLL minus the fitted Q-learner's, per experiment. */
  modelMinusQ: Estimate;
}

/** Probe correlations for the TD error, the Q-value difference, and the TD error less its mean at each answer point (see `detrend`). */
export interface ProbePair {
  tdError: number;
  qDiff: number;
  tdErrorDetrended: number;
}

const PROBED: readonly (keyof ProbePair)[] = ['tdError', 'qDiff', 'tdErrorDetrended'];

/**
 * A block's probes. The two stages of a trip are different decisions: at a
 * spaceship choice the newest outcome is the last trip's treasure (its TD error is
 * a reward prediction error) and the values are the spaceships'; at an alien choice
 * the newest is the landing (a TD error of the transition, no reward) and the
 * values are the planet's aliens'. `tdError` and `qDiff` (the criteria) fit one
 * probe per stage and score their pooled predictions; `singleMap` fits one map over
 * both, which cannot follow a quantity held in different directions at the two
 * kinds of position; `firstStage` and `secondStage` are each stage's probe alone.
 */
export interface BlockProbe extends ProbePair {
  block: number;
  singleMap: ProbePair;
  firstStage: ProbePair;
  secondStage: ProbePair;
}

export async function evaluateModel(
  model: LanguageModel,
  options: Partial<EvaluationOptions> = {},
  log: (line: string) => void = () => {},
  signal?: AbortSignal,
): Promise<ModelEvaluation> {
  const o = { ...EVALUATION_DEFAULTS, ...definedOnly(options) };
  checkInteger('experiments', o.experiments, 2);
  checkInteger('episodes', o.episodes, 10);
  checkInteger('seed', o.seed);
  const blocks = Array.from({ length: model.info.blocks.length }, (_, i) => i);
  const dModel = model.info.dModel;

  log(`two-step task: the model plays ${o.experiments} experiments of ${o.episodes} episodes`);
  const dir = await mkdtemp(join(tmpdir(), 'icrl-lens-eval-'));
  try {
    const recorder = await ResidualRecorder.open(dir, blocks, dModel);
    const played = await playTwoStep(model, { experiments: o.experiments, episodes: o.episodes, seed: o.seed, randomEpisodes: o.randomEpisodes, policy: o.policy }, { recorder, signal });
    await recorder.close();
    const late = (xs: number[]) => mean(xs.slice(o.randomEpisodes));
    const modelReturns = played.map((g) => late(g.episodes.map((e) => e.reward)));
    const expectedReturns = played.map((g) => late(g.episodes.map(expectedReward)));
    const randomReturns = played.map((g) => late(g.episodes.map(chanceReward)));
    log('two-step task: fitting Q-learning, myopic Q-learning and repetition to the model\u2019s choices');
    const families: LearnerModel<ChoiceLatents>[] = [Q_LEARNING, MYOPIC_Q_LEARNING, REPETITION];
    const fits = fitChoices(families, played);
    const nllByStage = fits.map((f) => stageNll(f.row.model, played, f.logProb));
    const qParams = fits.find((f) => f.row.model === Q_LEARNING.name)!.row.params;
    const qLatents = latentsOf(Q_LEARNING, qParams, { spec: TWO_STEP_SPEC, experiments: played });

    log('two-step task: probing every block for TD errors and Q-value differences');
    const read = await ActivationStore.open(dir);
    // The recorder numbers rows in the order it writes them, so a decision's row id is its row in the store.
    const keep: number[] = [];
    const td: number[] = [];
    const qd: number[] = [];
    const groups: number[] = [];
    const steps: number[] = [];
    const stages: number[] = [];
    played.forEach((g, e) => {
      for (let i = 1; i < g.decisions.length; i++) {
        keep.push(g.decisions[i].row!);
        td.push(qLatents[e][i - 1].tdError);
        qd.push(qLatents[e][i].qValues[1] - qLatents[e][i].qValues[0]);
        groups.push(g.index);
        steps.push(i);
        stages.push(g.transitions[i].state === 0 ? FIRST_STAGE : SECOND_STAGE);
      }
    });
    // What a clock cannot read: the TD error less its mean over the experiments at the same decision.
    const tdTable = { names: ['tdError'], columns: [Float64Array.from(td)], groups: Int32Array.from(groups), steps: Int32Array.from(steps), rows: null };
    const tdDetrended = Array.from(targetColumn(detrend(tdTable, ['tdError']), `tdError${DETRENDED}`));
    const targets: Record<keyof ProbePair, number[]> = { tdError: td, qDiff: qd, tdErrorDetrended: tdDetrended };
    const pair = (r: (key: keyof ProbePair) => number): ProbePair => ({ tdError: r('tdError'), qDiff: r('qDiff'), tdErrorDetrended: r('tdErrorDetrended') });
    const probe: BlockProbe[] = [];
    for (const block of blocks) {
      const x = gatherRows(await read.readAll(block), dModel, keep);
      const byStage = new Map(PROBED.map((key) => [key, ridgeProbeByKind(x, dModel, targets[key], groups, stages)]));
      const stage = (kind: number): ProbePair => pair((key) => byStage.get(key)!.byKind.find((b) => b.kind === kind)!.r);
      probe.push({
        block,
        ...pair((key) => byStage.get(key)!.r),
        singleMap: pair((key) => ridgeProbe(x, dModel, targets[key], groups).r),
        firstStage: stage(FIRST_STAGE),
        secondStage: stage(SECOND_STAGE),
      });
    }

    log(`two-step task: the model reads the generating agents\u2019 games and predicts their choices`);
    const agentPrediction = await predictAgents(model, o, signal);

    log(`grid world: the model watches ${o.experiments} Q-learning agents, with true and with shuffled rewards`);
    const gridOptions = { experiments: o.experiments, episodes: o.episodes, seed: o.seed };
    const trueGrid = await watchTranscripts(model, gridBatch(gridOptions).map((r) => r.transcript), {}, { signal });
    const shuffledGrid = await watchTranscripts(model, gridBatch({ ...gridOptions, rewards: 'shuffled' }).map((r) => r.transcript), {}, { signal });

    log(`community graph: the model watches ${o.experiments} walks`);
    const graphs = graphBatch({ experiments: o.experiments, episodes: o.episodes, seed: o.seed });
    const watchedGraphs = await watchTranscripts(model, graphs.map((r) => r.transcript), {}, { signal });
    const ceilings = graphs.map(walkCeiling);
    const ceiling = mean(ceilings);
    const graphAccuracy = accuracySummary(watchedGraphs);

    log(`recall: the model reads ${o.experiments} lists of ${RECALL_LENGTH} names said twice`);
    const recall = await recallCheck(model, o.experiments, o.seed, signal);

    return {
      options: o,
      twoStep: {
        modelReturn: estimate(modelReturns),
        modelExpectedReturn: estimate(expectedReturns),
        randomReturn: estimate(randomReturns),
        advantage: pairedDifference(expectedReturns, randomReturns),
        returnPerEpisode: columnEstimates(played.map((g) => g.episodes.map((e) => e.reward))),
        comparison: fits.map((f) => f.row),
        nllByStage,
        stay: stayProbabilities(played, o.randomEpisodes),
        agentPrediction,
      },
      grid: {
        trueRewards: accuracySummary(trueGrid),
        shuffledRewards: accuracySummary(shuffledGrid),
        trueMinusShuffled: estimate(trueGrid.map((w, i) => mean(w.accuracyPerEpisode) - mean(shuffledGrid[i].accuracyPerEpisode))),
      },
      graph: {
        ceiling,
        accuracy: graphAccuracy,
        fractionOfCeiling: estimate(watchedGraphs.map((w, i) => mean(w.accuracyPerEpisode.slice(-5)) / ceilings[i])),
        logProb: episodeSummary(watchedGraphs.map((w) => w.logProbPerEpisode)),
        predictions: graphPredictionBreakdown(graphs, watchedGraphs),
      },
      recall,
      probe,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type Experiments = readonly { transitions: readonly Transition[]; scored: readonly boolean[] }[];

/** Each family fitted by NLL to the experiments' choices (best first), with its log-probability of step i of experiment e. */
function fitChoices(families: LearnerModel<ChoiceLatents>[], experiments: Experiments): { row: ComparisonRow; logProb: (e: number, i: number) => number }[] {
  return compareModels({ spec: TWO_STEP_SPEC, experiments }, families, { criterion: 'nll', restarts: 3 }).rows.map((row) => {
    const latents = latentsOf(families.find((f) => f.name === row.model)!, row.params, { spec: TWO_STEP_SPEC, experiments });
    return { row, logProb: (e: number, i: number) => latents[e][i].logProb };
  });
}

/** A predictor's NLL of each experiment's scored choices, by stage, from its log-probability of step i of experiment e. */
function stageNll(model: string, experiments: Experiments, logProb: (e: number, i: number) => number): StageNll {
  const nll = { model, spaceship: 0, alien: 0 };
  experiments.forEach((x, e) =>
    x.transitions.forEach((t, i) => {
      if (x.scored[i]) nll[t.state === 0 ? 'spaceship' : 'alien'] -= logProb(e, i);
    }),
  );
  return nll;
}

async function predictAgents(model: LanguageModel, o: EvaluationOptions, signal?: AbortSignal): Promise<AgentPrediction> {
  const agents = twoStepBatch({ experiments: o.experiments, episodes: o.episodes, seed: o.seed, randomEpisodes: o.randomEpisodes });
  const watched = await watchTranscripts(model, agents.map((r) => r.transcript), {}, { signal });
  watched.forEach((w, e) =>
    w.predictions.forEach((p, i) => {
      const action = agents[e].transitions[i].action;
      if (p.answer !== action) throw new RangeError(`agent prediction: experiment ${e}, step ${i}: the transcript's answer is ${p.answer}, the agent chose ${action}`);
    }),
  );
  const modelLogProb = (e: number, i: number) => {
    const p = watched[e].predictions[i];
    return p.logProbs[p.answer];
  };
  const fitted = fitChoices([Q_LEARNING, REPETITION], agents);
  const perExperiment = (logProb: (e: number, i: number) => number) =>
    agents.map((x, e) => x.transitions.reduce((sum, _, i) => (x.scored[i] ? sum - logProb(e, i) : sum), 0));
  const q = fitted.find((f) => f.row.model === Q_LEARNING.name)!;
  return {
    nllByStage: [
      stageNll('model', agents, modelLogProb),
      ...fitted.map((f) => stageNll(f.row.model, agents, f.logProb)),
      stageNll('agents', agents, (e, i) => agents[e].latents[i].logProb),
    ],
    modelMinusQ: pairedDifference(perExperiment(modelLogProb), perExperiment(q.logProb)),
  };
}

/**
 * Whether a model learns the graph from the walk or only guesses from the last
 * few nodes. Each fraction is taken per walk, then over walks: how often the
 * model's most probable next node is a true neighbour of the current node (the
 * only nodes that can come), the node the walk just came from (always a
 * neighbour: a predictor that knew nothing else would pick it), or the current
 * node itself (which never comes); and the probability it gives the neighbours
 * together and the log-probability of the node that came, beside a uniform
 * guess's (log 1/n for n nodes).
 */
export interface GraphPredictionBreakdown {
  argmaxNeighbour: Estimate;
  argmaxPrevious: Estimate;
  argmaxCurrent: Estimate;
  neighbourProbability: Estimate;
  logProb: Estimate;
  uniformLogProb: number;
  /**
   * What always naming the node just left would score in the last five episodes,
   * as a fraction of the ceiling. On a graph whose nodes' links are equally
   * likely, the way back is always among the likeliest next nodes, so this
   * reaches the ceiling without learning anything of the graph: accuracy near
   * the ceiling means the graph is learnt only if the model does better than
   * this on log-probability, or names other neighbours.
   */
  backtrackFractionOfCeiling: Estimate;
}

export function graphPredictionBreakdown(records: readonly GraphRecord[], watched: readonly WatchedTranscript[]): GraphPredictionBreakdown {
  if (records.length !== watched.length || records.length === 0) {
    throw new RangeError(`graph breakdown: ${records.length} walks and ${watched.length} watched transcripts; they must match and be at least one`);
  }
  const perWalk = records.map((r, i) => {
    const { predictions } = watched[i];
    if (predictions.length !== r.transitions.length) {
      throw new RangeError(`graph breakdown: walk ${i} has ${r.transitions.length} steps but ${predictions.length} predictions`);
    }
    const graph = recordGraph(r);
    const lastFive = predictions.reduce((m, p) => Math.max(m, p.episode), 0) - 4;
    let neighbour = 0, previous = 0, withPrevious = 0, current = 0, pNeighbours = 0, logProb = 0, late = 0, backtracks = 0;
    predictions.forEach((p, k) => {
      const { state, nextState } = r.transitions[k];
      if (p.answer !== nextState) throw new RangeError(`graph breakdown: walk ${i}, step ${k}: the prediction's answer is ${p.answer}, the walk went to ${nextState}`);
      const nb = graph.neighbours(state);
      if (nb.includes(p.predicted)) neighbour++;
      if (p.predicted === state) current++;
      if (k > 0) {
        withPrevious++;
        if (p.predicted === r.transitions[k - 1].state) previous++;
      }
      if (p.episode >= lastFive) {
        late++;
        if (k > 0 && r.transitions[k - 1].state === p.answer) backtracks++;
      }
      pNeighbours += nb.reduce((sum, j) => sum + Math.exp(p.logProbs[j]), 0);
      logProb += p.logProbs[p.answer];
    });
    const n = predictions.length;
    const ceiling = graph.ceilingAccuracy(r.transitions.map((t) => t.state));
    return {
      neighbour: neighbour / n,
      previous: previous / Math.max(1, withPrevious),
      current: current / n,
      pNeighbours: pNeighbours / n,
      logProb: logProb / n,
      size: graph.size,
      backtrack: backtracks / late / ceiling,
    };
  });
  return {
    argmaxNeighbour: estimate(perWalk.map((w) => w.neighbour)),
    argmaxPrevious: estimate(perWalk.map((w) => w.previous)),
    argmaxCurrent: estimate(perWalk.map((w) => w.current)),
    neighbourProbability: estimate(perWalk.map((w) => w.pNeighbours)),
    logProb: estimate(perWalk.map((w) => w.logProb)),
    uniformLogProb: mean(perWalk.map((w) => -Math.log(w.size))),
    backtrackFractionOfCeiling: estimate(perWalk.map((w) => w.backtrack)),
  };
}

/**
 * The recall check: lists of distinct object names said twice over, laid out as
 * a graph walk (src/core/prompts/recall.ts). On the second telling a model that
 * looks back to where the current name came before, and reads what followed
 * it, names the next one for certain; without that lookup it does no better
 * than on the first telling. That lookup is what learning a graph in context
 * takes, so a model that lacks it cannot reach the graph's ceiling. Accuracy
 * and log-probability are taken per list, then over lists, over the pool of
 * all object names (a uniform guess: log 1/pool).
 */
export interface RecallCheck {
  listLength: number;
  pool: number;
  first: { accuracy: Estimate; logProb: Estimate };
  second: { accuracy: Estimate; logProb: Estimate };
  uniformLogProb: number;
}

export const RECALL_LENGTH = 20;

export async function recallCheck(model: LanguageModel, experiments: number, seed: number, signal?: AbortSignal): Promise<RecallCheck> {
  checkInteger('experiments', experiments, 2);
  const rng = Rng.fromSeed(seed);
  const transcripts = Array.from({ length: experiments }, () => recallTranscript(rng.shuffle(OBJECT_WORDS).slice(0, RECALL_LENGTH), OBJECT_WORDS));
  const watched = await watchTranscripts(model, transcripts, {}, { signal });
  const telling = (episode: number) => ({
    accuracy: estimate(watched.map((w) => w.accuracyPerEpisode[episode])),
    logProb: estimate(watched.map((w) => w.logProbPerEpisode[episode])),
  });
  return { listLength: RECALL_LENGTH, pool: OBJECT_WORDS.length, first: telling(0), second: telling(1), uniformLogProb: -Math.log(OBJECT_WORDS.length) };
}

function accuracySummary(watched: readonly WatchedTranscript[]): EpisodeSummary {
  return episodeSummary(watched.map((w) => w.accuracyPerEpisode));
}

/** A per-episode measure of each experiment, summarised over experiments: per episode, first and last five, and the rise between them. */
function episodeSummary(perExperiment: readonly number[][]): EpisodeSummary {
  const first = perExperiment.map((xs) => mean(xs.slice(0, 5)));
  const last = perExperiment.map((xs) => mean(xs.slice(-5)));
  return {
    perEpisode: columnEstimates(perExperiment),
    first5: estimate(first),
    last5: estimate(last),
    rise: pairedDifference(last, first),
    overall: estimate(perExperiment.map(mean)),
  };
}

/** A criterion of the default model's report card, and whether this evaluation meets it. */
export interface Check {
  claim: string;
  passed: boolean;
}

export function evaluationChecks(e: ModelEvaluation): Check[] {
  const nll = (name: string) => e.twoStep.comparison.find((r) => r.model === name)!.nll;
  const bestTd = Math.max(...e.probe.map((p) => p.tdError));
  const bestQ = Math.max(...e.probe.map((p) => p.qDiff));
  return [
    { claim: 'two-step: return after the random episodes is above a random policy\u2019s (95% interval of the difference above 0)', passed: e.twoStep.advantage.ci95[0] > 0 },
    { claim: 'two-step: Q-learning fits the model\u2019s choices better than repetition (NLL)', passed: nll(Q_LEARNING.name) < nll(REPETITION.name) },
    { claim: 'grid: accuracy rises from the first five episodes to the last five (95% interval above 0)', passed: e.grid.trueRewards.rise.ci95[0] > 0 },
    { claim: 'grid: accuracy is higher with true rewards than with shuffled ones (95% interval above 0)', passed: e.grid.trueMinusShuffled.ci95[0] > 0 },
    { claim: 'graph: accuracy in the last five episodes reaches 90% of the ceiling', passed: e.graph.fractionOfCeiling.mean >= 0.9 },
    { claim: `probe: some block predicts the TD error with r >= 0.5 (a probe per decision stage; best ${bestTd.toFixed(3)})`, passed: bestTd >= 0.5 },
    { claim: `probe: some block predicts the Q-value difference with r >= 0.5 (a probe per decision stage; best ${bestQ.toFixed(3)})`, passed: bestQ >= 0.5 },
  ];
}

export function formatEvaluation(e: ModelEvaluation): string {
  const f = (x: Estimate) => formatEstimate(x);
  const t = e.twoStep;
  const g = e.graph.predictions;
  const lines = [
    `${e.options.experiments} experiments x ${e.options.episodes} episodes, seed ${e.options.seed}`,
    '',
    `Two-step task (first ${e.options.randomEpisodes} episodes random):`,
    `  reward per episode, episodes ${e.options.randomEpisodes + 1}-${e.options.episodes} (choices: ${policyName(e.options.policy)}): model ${f(t.modelReturn)}; expected (the chance of treasure of the options chosen) ${f(t.modelExpectedReturn)}, random policy ${f(t.randomReturn)}, difference ${f(t.advantage)}`,
    `  models fitted to the model's choices: ${t.comparison.map((r) => `${r.model} NLL ${r.nll.toFixed(1)}`).join(', ')}`,
    `  the same NLLs by stage (spaceship + alien choices): ${t.nllByStage.map((r) => `${r.model} ${r.spaceship.toFixed(1)} + ${r.alien.toFixed(1)}`).join(', ')}`,
    `  stay probabilities, episodes ${e.options.randomEpisodes + 1}-${e.options.episodes}: spaceship after treasure, common ${f(t.stay.spaceship.rewarded.common)}, rare ${f(t.stay.spaceship.rewarded.rare)}; ` +
      `after none, common ${f(t.stay.spaceship.unrewarded.common)}, rare ${f(t.stay.spaceship.unrewarded.rare)}; ` +
      `alien after treasure ${f(t.stay.alien.rewarded)}, after none ${f(t.stay.alien.unrewarded)}`,
    `  predicting the generating agents\u2019 choices, episodes ${e.options.randomEpisodes + 1}-${e.options.episodes} (NLL, spaceship + alien = total): ` +
      t.agentPrediction.nllByStage.map((r) => `${r.model === 'agents' ? 'their own learners (the floor)' : r.model} ${r.spaceship.toFixed(1)} + ${r.alien.toFixed(1)} = ${(r.spaceship + r.alien).toFixed(1)}`).join('; '),
    `  the model minus the fitted q-learning, per experiment: ${f(t.agentPrediction.modelMinusQ)}`,
    'Grid world, next-action accuracy (first 5 -> last 5 episodes):',
    `  true rewards     ${f(e.grid.trueRewards.first5)} -> ${f(e.grid.trueRewards.last5)}, rise ${f(e.grid.trueRewards.rise)}`,
    `  shuffled rewards ${f(e.grid.shuffledRewards.first5)} -> ${f(e.grid.shuffledRewards.last5)}, rise ${f(e.grid.shuffledRewards.rise)}`,
    `  true minus shuffled, all episodes: ${f(e.grid.trueMinusShuffled)}`,
    `Community graph, next-node accuracy: first 5 ${f(e.graph.accuracy.first5)}, last 5 ${f(e.graph.accuracy.last5)}; ceiling ${e.graph.ceiling.toFixed(3)}; last 5 / ceiling ${f(e.graph.fractionOfCeiling)}`,
    `  most probable next node: a neighbour ${f(g.argmaxNeighbour)}, the node just left ${f(g.argmaxPrevious)}, the current node ${f(g.argmaxCurrent)}`,
    `  probability on the neighbours ${f(g.neighbourProbability)}; log-probability of the node that came ${f(g.logProb)} (uniform guess ${g.uniformLogProb.toFixed(3)}), first 5 ${f(e.graph.logProb.first5)}, last 5 ${f(e.graph.logProb.last5)}, rise ${f(e.graph.logProb.rise)}`,
    `  always naming the node just left, which learns nothing of the graph, would reach ${f(g.backtrackFractionOfCeiling)} of the ceiling`,
    `Recall, lists of ${e.recall.listLength} names said twice (out of ${e.recall.pool}; uniform log-probability ${e.recall.uniformLogProb.toFixed(3)}):`,
    `  first telling: accuracy ${f(e.recall.first.accuracy)}, log-probability ${f(e.recall.first.logProb)}; second telling: accuracy ${f(e.recall.second.accuracy)}, log-probability ${f(e.recall.second.logProb)}`,
    'Ridge probes at two-step decision points (cross-validated r; one probe per stage, predictions pooled; in brackets one map over both stages, the first stage\u2019s probe alone, the second\u2019s):',
    ...e.probe.map((p) => {
      const pair = (key: keyof ProbePair) => `${p[key].toFixed(3)} (${[p.singleMap, p.firstStage, p.secondStage].map((q) => q[key].toFixed(3)).join(', ')})`;
      return `  block ${p.block}: TD error ${pair('tdError')}, Q-value difference ${pair('qDiff')}, TD error less its mean at each decision ${pair('tdErrorDetrended')}`;
    }),
    '',
    ...evaluationChecks(e).map((c) => `${c.passed ? 'PASS' : 'FAIL'}  ${c.claim}`),
  ];
  return lines.join('\n');
}
