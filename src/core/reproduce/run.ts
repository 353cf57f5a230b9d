import { join } from 'node:path';
import { fitModel } from '../agents/fit';
import { Q_LEARNING } from '../agents/qLearning';
import { discoverLatents, latentsFile, rankDiscovered, runId, writeLatents, type DiscoveredLatent, type RunInfo } from '../analysis/discovered';
import { maxRFigure, PAPER_NUMBERS, probeFigures, RESULTS_FORMAT, RESULTS_VERSION, writeResults, type Figure, type InterventionResult, type Results, type TaskResult } from '../analysis/results';
import { latentColumn } from '../analysis/scan';
import { DETRENDED, FIRST_STAGE, graphTargets, gridTargets, targetColumn, targetFamily, type TargetTable } from '../analysis/targets';
import { definedOnly } from '../config';
import { gridSpec } from '../envs/gridWorld';
import { CommunityGraph } from '../envs/communityGraph';
import { chanceReward } from '../envs/twoStep';
import { TASK_KINDS, type TaskKind } from '../envs/types';
import { watchTranscripts, type AnswerPolicy, type LanguageModel, type WatchedTranscript } from '../lm';
import {
  accuracyPerEpisodeChart,
  communityStructureChart,
  gridAccuracyChart,
  latentActivationChart,
  lesionEffectChart,
  type EffectRow,
  maxCorrelationChart,
  nllByConditionChart,
  returnPerEpisodeChart,
  sparseProbeChart,
  srCorrelationChart,
  type ChartSpec,
} from '../plots';
import { graphBatch, gridBatch, recordGraph, walkCeiling, type GraphRecord } from '../simulation';
import { mean, pairedDifference } from '../stats';
import { latentsByCorrelation, type BlockStudy } from './blocks';
import { writeFigure } from './figures';
import { PROBE_CONDITION, twoStepStudy, TWO_STEP_STUDY_DEFAULTS, type StageScan, type StudyContext, type TwoStepStudy } from './twoStep';
import { condition, watchStudy, WATCH_STUDY_DEFAULTS, type WatchStudyOptions } from './watchStudy';

export const REPRODUCIBLE_TASKS = TASK_KINDS;

/** Options shared by every task's study (each task has its own defaults for the rest). */
export interface CommonStudyOptions {
  experiments?: number;
  episodes?: number;
  seed?: number;
  permutations?: number;
  saeEpochs?: number;
  /** The standard SAE's L1 coefficient (sparsity penalty). */
  saeL1?: number;
  /** SAE latents per residual dimension (default 8). */
  saeExpansion?: number;
  /** Train the SAEs on whitened residual rows (see TrainOptions.whiten; default false). */
  saeWhiten?: boolean;
  /** How the model picks its labels where it acts (the two-step task). */
  policy?: AnswerPolicy;
  /** How many of the best-tracking latents are lesioned, and how many least-correlated ones in the control (default 8 for the two-step task, 4 for the grid as the paper, 1 for the graph as the paper). */
  lesionLatents?: number;
  /** How the graph's nodes are named (default 'fixed'; see {@link GraphNames}). */
  graphNames?: GraphNames;
}

/**
 * 'fixed': every walk names its nodes with the same words, drawn once from the
 * seed, so that an SR column `sr[j]` (and `srTd[j]`, `trans[j]`) is the same word
 * in every experiment and a latent can track it. 'per-walk': the words are drawn
 * afresh for each walk, as in the training data; then node j is a different word
 * in each walk, the model has no way to tell which of its words is node j, and
 * only the scalar targets (srNext, pNext, surprise) mean the same across walks.
 */
export const GRAPH_NAMES = ['fixed', 'per-walk'] as const;
export type GraphNames = (typeof GRAPH_NAMES)[number];

export interface ReproduceOptions {
  tasks: readonly TaskKind[];
  /** Where results.json, latents.json, figures/, saes/ and activations/ go. */
  outDir: string;
  modelName: string;
  common: CommonStudyOptions;
}

/**
 * The whole study, end to end, for the chosen tasks: writes results.json (our
 * numbers beside the paper's), latents.json (the discovered latents, ranked), the
 * figures as SVG and Vega-Lite, and the SAEs as SAELens folders.
 */
export async function reproduce(model: LanguageModel, o: ReproduceOptions, log: (line: string) => void, signal?: AbortSignal): Promise<Results> {
  const createdAt = new Date().toISOString();
  const config = { tasks: [...o.tasks], ...o.common };
  const seed = o.common.seed ?? TWO_STEP_STUDY_DEFAULTS.seed;
  const run: RunInfo = { id: runId(model.info.hash, seed, config), seed, createdAt, config };
  const ctx: StudyContext = { model, modelName: o.modelName, outDir: o.outDir, log, signal };
  const tasks: Results['tasks'] = {};
  const discovered: DiscoveredLatent[] = [];
  for (const task of o.tasks) {
    const started = Date.now();
    const { result, blocks, stageScans = [] } = await runTask(ctx, task, o.common);
    for (const b of blocks) {
      const e = b.evaluation;
      result.ours[`sae.fvu.block${b.block}`] = { value: e.fvu, block: b.block };
      result.ours[`sae.l0.block${b.block}`] = { value: e.l0, block: b.block };
      result.ours[`sae.deadFraction.block${b.block}`] = { value: e.deadFraction, block: b.block };
      if (e.ceLossRecovered !== undefined && Number.isFinite(e.ceLossRecovered)) result.ours[`sae.ceLossRecovered.block${b.block}`] = { value: e.ceLossRecovered, block: b.block };
    }
    tasks[task] = result;
    discovered.push(
      ...discoverLatents({
        task,
        model: o.modelName,
        modelHash: model.info.hash,
        run,
        scans: [...blocks, ...stageScans].map((s) => ({ block: s.block, scan: s.scan, sae: blocks.find((b) => b.block === s.block)!.saeFolder })),
      }),
    );
    log(`${task}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  const results: Results = { format: RESULTS_FORMAT, version: RESULTS_VERSION, model: o.modelName, modelHash: model.info.hash, seed, config, createdAt, tasks };
  await writeResults(join(o.outDir, 'results.json'), results);
  await writeLatents(o.outDir, latentsFile({ model: o.modelName, modelHash: model.info.hash, seed, config }, rankDiscovered(discovered)));
  return results;
}

/** The SAE options the command line sets, over each task's defaults. */
function saeOverrides(c: CommonStudyOptions) {
  return definedOnly({ epochs: c.saeEpochs, l1Coefficient: c.saeL1, expansionFactor: c.saeExpansion, whiten: c.saeWhiten });
}

/** A task's results, its block studies, and any scans at other rows (the two-step task's first-stage choices and reward tokens). */
interface TaskRun {
  result: TaskResult;
  blocks: BlockStudy[];
  stageScans?: StageScan[];
}

async function runTask(ctx: StudyContext, task: TaskKind, c: CommonStudyOptions): Promise<TaskRun> {
  const defined = definedOnly({ experiments: c.experiments, episodes: c.episodes, seed: c.seed, permutations: c.permutations, lesionLatents: c.lesionLatents });
  switch (task) {
    case 'two-step': {
      const study = await twoStepStudy(ctx, { ...defined, ...definedOnly({ policy: c.policy }), sae: { ...TWO_STEP_STUDY_DEFAULTS.sae, ...saeOverrides(c) } });
      return { result: await twoStepResult(study, ctx.outDir), blocks: study.blocks, stageScans: [...study.stageScans, ...study.rewardScans] };
    }
    case 'grid':
      return gridTask(ctx, { ...WATCH_STUDY_DEFAULTS, ...defined, sae: { ...WATCH_STUDY_DEFAULTS.sae, ...saeOverrides(c) } });
    case 'graph':
      return graphTask(ctx, { ...WATCH_STUDY_DEFAULTS, lesionLatents: 1, ...defined, sae: { ...WATCH_STUDY_DEFAULTS.sae, ...saeOverrides(c) } }, c.graphNames ?? 'fixed');
  }
}

/** Grid world: the model watches Q-learning agents; targets from Q-learning fitted to the agents' actions. */
async function gridTask(ctx: StudyContext, o: WatchStudyOptions): Promise<{ result: TaskResult; blocks: BlockStudy[] }> {
  const batch = { experiments: o.experiments, episodes: o.episodes, seed: o.seed };
  const records = gridBatch(batch);
  ctx.log('grid: fitting Q-learning to the agents\u2019 actions');
  const fit = fitModel(Q_LEARNING, { spec: gridSpec(records[0].env), experiments: records }, { restarts: 3, seed: o.seed });
  const study = await watchStudy(ctx, 'grid', records.map((r) => r.transcript), (watched) => gridTargets(fit.latents, { rows: rowsOf(watched) }), 'tdError', o, () => GRID_PROBED);
  ctx.log('grid: the model watches the same agents with shuffled rewards');
  const shuffled = condition('shuffled rewards', await watchTranscripts(ctx.model, gridBatch({ ...batch, rewards: 'shuffled' }).map((r) => r.transcript), {}, { signal: ctx.signal }));
  const clean = study.conditions[0];
  const dir = join(ctx.outDir, 'figures', 'grid');
  const figures = [
    await writeFigure(
      dir,
      'accuracy-true-vs-shuffled',
      gridAccuracyChart([
        { condition: 'true rewards', perEpisode: clean.accuracyPerEpisode },
        { condition: 'shuffled rewards', perEpisode: shuffled.accuracyPerEpisode },
      ], { chance: 0.25 }),
      ctx.outDir,
    ),
    await writeFigure(
      dir,
      'accuracy-by-condition',
      accuracyPerEpisodeChart(study.conditions.map((c) => ({ condition: c.condition, perEpisode: c.accuracyPerEpisode })), { title: `Grid world: next-action accuracy under interventions at block ${study.lesionBlock}`, chance: 0.25 }),
      ctx.outDir,
    ),
    await writeFigure(dir, 'max-correlation-per-block', maxCorrelationChart(curveRows(study.blocks, { tdError: 'TD error', qChosen: 'Q-value', [`tdError${DETRENDED}`]: 'TD error less its mean at each step' }), { title: 'Grid world: best latent per block, and a linear probe', smoothSigma: 0.5 }), ctx.outDir),
    ...(await latentFigure(dir, ctx.outDir, study.blocks, study.targets, study.lesionBlock, 'tdError', 'TD error')),
  ];
  const trueMinusShuffled = pairedDifference(clean.accuracy, shuffled.accuracy);
  const interventions = [...study.interventions, { condition: 'true-minus-shuffled', metric: 'accuracy', value: trueMinusShuffled.mean, ci95: trueMinusShuffled.ci95 }];
  const lesionStudy = study.blocks.find((b) => b.block === study.lesionBlock)!;
  const strong = latentsByCorrelation(lesionStudy, study.targets, 'tdError').filter((l) => Math.abs(l.r) >= 0.75).length;
  const ours: Record<string, Figure> = {
    'tdLatentsAtLeast0.75': { value: strong, block: study.lesionBlock, note: 'latents of the best TD block with |r| >= 0.75 (the paper found four)' },
    'accuracy.trueRewards': { value: mean(clean.accuracy) },
    'accuracy.shuffledRewards': { value: mean(shuffled.accuracy) },
  };
  for (const target of [`tdError${DETRENDED}`, `qChosen${DETRENDED}`]) {
    const figure = maxRFigure(study.bestLatents, target);
    if (figure) ours[`maxR.${target}`] = { ...figure, note: `${figure.note}; less its mean over the experiments at the same step, so no clock can follow it` };
  }
  return { result: { bestLatents: study.bestLatents, interventions, probes: study.probes, paper: { ...PAPER_NUMBERS.grid }, ours: { ...ours, ...probeFigures(study.probes), ...probeFigures(study.reconstructionProbes, 'reconstruction') }, figures }, blocks: study.blocks };
}

/** The walks the graph study watches; with 'fixed' names, every walk has the words the seed draws for a graph. */
export function graphStudyRecords(o: Pick<WatchStudyOptions, 'experiments' | 'episodes' | 'seed'>, names: GraphNames): GraphRecord[] {
  const words = names === 'fixed' ? [...CommunityGraph.create({}, o.seed).names] : null;
  return graphBatch({ experiments: o.experiments, episodes: o.episodes, seed: o.seed, config: { words } });
}

/** Community graph: the model watches walks; targets from the SR-TD learner recorded with each walk. */
async function graphTask(ctx: StudyContext, o: WatchStudyOptions, names: GraphNames): Promise<{ result: TaskResult; blocks: BlockStudy[] }> {
  const records = graphStudyRecords(o, names);
  const words = names === 'fixed' ? records[0].env.words : null;
  ctx.log(`graph: ${words ? `the same node names in every walk (${words.join(', ')})` : 'node names drawn afresh for every walk'}`);
  const graph = recordGraph(records[0]);
  const transitionMatrix = graph.transitionMatrix();
  const study = await watchStudy(
    ctx,
    'graph',
    records.map((r) => r.transcript),
    (watched) => graphTargets(records.map((r) => r.latents), { rows: rowsOf(watched), transitionMatrix }),
    'srTd',
    o,
    (targets) => targets.names.filter((name) => GRAPH_PROBED.includes(targetFamily(name))),
  );
  const n = graph.size;
  const sums = Array.from({ length: n }, () => new Float64Array(n));
  const counts = new Float64Array(n);
  study.conditions[0].watched.forEach((w, e) =>
    w.predictions.forEach((p, k) => {
      const from = records[e].transitions[k].state;
      counts[from]++;
      p.logProbs.forEach((lp, j) => (sums[from][j] += Math.exp(lp)));
    }),
  );
  const nextNode = sums.map((row, i) => Array.from(row, (v) => v / Math.max(1, counts[i])));
  const ceiling = mean(records.map(walkCeiling));
  const dir = join(ctx.outDir, 'figures', 'graph');
  const families: Record<string, string> = {
    sr: 'SR entries',
    srOff: 'SR entries beyond the current node',
    srTd: 'SR TD errors',
    trans: 'transition matrix',
    surprise: 'surprise',
    node: 'current node (control)',
  };
  // Per block and family: the best latent over the family's columns, and the best column's linear probe.
  const srRows = study.blocks.flatMap((b) =>
    Object.entries(families).flatMap(([family, label]) =>
      [
        { condition: 'best latent', rs: b.scan.best.filter((x) => targetFamily(x.target) === family && Number.isFinite(x.r)).map((x) => Math.abs(x.r)) },
        { condition: PROBE_CONDITION, rs: b.probes.filter((x) => targetFamily(x.target) === family && Number.isFinite(x.r)).map((x) => Math.abs(x.r)) },
      ].flatMap(({ condition, rs }) => (rs.length === 0 ? [] : [{ block: b.block, target: label, condition, r: Math.max(...rs) }])),
    ),
  );
  const figures = [
    await writeFigure(dir, 'sr-correlation-per-block', srCorrelationChart(srRows, { title: 'Community graph: best latent per block, and a linear probe', smoothSigma: 0.5 }), ctx.outDir),
    await writeFigure(
      dir,
      'next-node-distribution',
      communityStructureChart(nextNode, words ?? graph.names.map((_, j) => `node ${j}`), nextNode.map((_, j) => graph.community(j)), {
        title: 'Community graph: the model\u2019s next-node distribution',
        valueTitle: 'P(next node)',
      }),
      ctx.outDir,
    ),
    await writeFigure(
      dir,
      'accuracy-by-condition',
      accuracyPerEpisodeChart(study.conditions.map((c) => ({ condition: c.condition, perEpisode: c.accuracyPerEpisode })), { title: `Community graph: next-node accuracy under interventions at block ${study.lesionBlock}`, ceiling }),
      ctx.outDir,
    ),
    ...(await latentFigure(dir, ctx.outDir, study.blocks, study.targets, study.lesionBlock, study.lesionTarget, `SR TD error (${study.lesionTarget})`)),
  ];
  const ours: Record<string, Figure> = {
    ...Object.fromEntries(study.conditions.map((c) => [`intervention.accuracy.${c.condition}`, { value: mean(c.accuracy), block: study.lesionBlock }])),
    ceiling: { value: ceiling, note: 'the walk\u2019s best possible next-node accuracy' },
  };
  // sr[j] is largest where node j is current, so a latent that only names the current node tracks it too: node[j] says how far, srOff[j] what is left.
  const notes: Record<string, string> = {
    node: 'a control: how closely a latent follows which node is current, the largest entry of an SR row',
    srOff: 'what the SR learned in the walk beyond what the current node alone says (uncorrelated with any function of it)',
  };
  for (const [family, note] of Object.entries(notes)) {
    const figure = maxRFigure(study.bestLatents, family);
    if (figure) ours[`maxR.${family}`] = { ...figure, note: `${figure.note}; ${note}` };
  }
  return {
    result: { bestLatents: study.bestLatents, interventions: study.interventions, probes: study.probes, paper: { ...PAPER_NUMBERS.graph }, ours: { ...ours, ...probeFigures(study.probes), ...probeFigures(study.reconstructionProbes, 'reconstruction') }, figures },
    blocks: study.blocks,
  };
}

function rowsOf(watched: readonly WatchedTranscript[]): (number | null)[][] {
  return watched.map((w) => w.predictions.map((p) => p.row));
}

/** Each block's best latent per plotted target ('none'), and its linear probe. */
function curveRows(blocks: readonly BlockStudy[], plotted: Record<string, string>): { condition: string; target: string; block: number; r: number }[] {
  return blocks.flatMap((b) =>
    [
      ...b.scan.best.map((x) => ({ condition: 'none', target: x.target, r: Math.abs(x.r) })),
      ...b.probes.map((x) => ({ condition: PROBE_CONDITION, target: x.target, r: Math.abs(x.r) })),
    ]
      .filter((x) => x.target in plotted && Number.isFinite(x.r))
      .map((x) => ({ ...x, target: plotted[x.target], block: b.block })),
  );
}

/** The graph's target families whose every column a linear probe of each block is fitted to. */
const GRAPH_PROBED = ['sr', 'srOff', 'srTd', 'node'];

/** The grid targets a linear probe of each block is fitted to. */
const GRID_PROBED = ['tdError', 'qChosen', `tdError${DETRENDED}`, `qChosen${DETRENDED}`];

async function latentFigure(dir: string, outDir: string, blocks: readonly BlockStudy[], targets: TargetTable, block: number, target: string, label: string): Promise<string[]> {
  const study = blocks.find((b) => b.block === block)!;
  const best = study.scan.best.find((b) => b.target === target);
  if (!best || best.latent < 0) return [];
  const activation = latentColumn(study.acts, study.sae.dSae, best.latent);
  const column = targetColumn(targets, target);
  const spec = latentActivationChart(Array.from(column, (t, i) => ({ activation: activation[i], target: t })), { latent: best.latent, block, target: label, r: best.r });
  return [await writeFigure(dir, 'best-latent', spec, outDir)];
}

/** Each lesion's paired difference from its control in one metric, named by the lesion. */
function lesionDifferences(interventions: readonly InterventionResult[], metric: string): EffectRow[] {
  return interventions
    .filter((i) => i.metric === metric && i.condition.endsWith('-minus-control'))
    .map((i) => ({ condition: i.condition.replace(/-minus-control$/, ''), value: i.value, ci95: i.ci95 }));
}

/** The k-sparse probes at the probe lesion's block, each target beside its linear probe of the whole residual stream. */
function sparseProbeFigure(s: TwoStepStudy): ChartSpec {
  const block = s.probeLesion.block;
  const names: Record<string, string> = {
    [`${FIRST_STAGE}tdError`]: 'TD error',
    [`${FIRST_STAGE}tdError${DETRENDED}`]: 'TD error less its mean per trip',
    [`${FIRST_STAGE}qDiff`]: 'Q difference',
  };
  const name = (target: string) => names[target] ?? target;
  const probes = s.sparseProbes.find((p) => p.block === block)!.probes;
  return sparseProbeChart(
    probes.flatMap((p) => p.points.map((q) => ({ target: name(p.target), k: q.k, r: q.r }))),
    s.probes.filter((p) => p.block === block && probes.some((q) => q.target === p.target)).map((p) => ({ target: name(p.target), r: p.r })),
    { title: 'Two-step task: how many latents it takes to read each target', subtitle: `First-stage choices, block ${block}; the best k latents together, out of fold` },
  );
}

async function twoStepResult(s: TwoStepStudy, outDir: string): Promise<TaskResult> {
  const dir = join(outDir, 'figures', 'two-step');
  const conditions = s.conditions.map((c) => c.condition);
  const chance = mean(s.clean.played.map((g) => mean(g.episodes.slice(s.options.randomEpisodes).map(chanceReward))));
  // The paper's conditions (Fig. 2E); the other lesions' returns, each beside its control, are in 'return-by-lesion'.
  const paperConditions = ['none', 'reconstruction', 'lesion', 'control', `scale${s.options.scaleFactor}`];
  const figures = [
    await writeFigure(
      dir,
      'return-per-episode',
      returnPerEpisodeChart(
        s.conditions.filter((c) => paperConditions.includes(c.condition)).map((c) => ({ condition: c.condition, perEpisode: c.returnPerEpisode })),
        { title: `Two-step task: expected return per episode (TD-error latents at block ${s.lesionBlock})`, yTitle: 'Expected reward per episode', randomEpisodes: s.options.randomEpisodes, chance },
      ),
      outDir,
    ),
    await writeFigure(
      dir,
      'nll-by-condition',
      nllByConditionChart(
        s.interventions.filter((i) => i.metric === 'nll' && conditions.includes(i.condition)).map((i) => ({ condition: i.condition, nll: i.value, ci95: i.ci95 })),
        { title: 'Two-step task: Q-learning NLL of the model\u2019s choices', subtitle: 'Q-learning refitted to each condition\u2019s choices' },
      ),
      outDir,
    ),
    await writeFigure(
      dir,
      'return-by-lesion',
      lesionEffectChart(lesionDifferences(s.interventions, 'return'), {
        title: 'Two-step task: each lesion\u2019s return beyond its control',
        subtitle: `Expected reward per episode, episodes ${s.options.randomEpisodes + 1}\u2013${s.options.episodes}`,
        xTitle: 'Return, lesion minus control',
      }),
      outDir,
    ),
    await writeFigure(
      dir,
      'choice-cost-by-lesion',
      lesionEffectChart(lesionDifferences(s.interventions, 'choice-cost'), {
        title: 'Two-step task: what each lesion costs the model\u2019s own choices, beyond its control',
        subtitle: 'The clean run\u2019s choices scored under each edit: log p_clean - log p_edited, summed per experiment',
        xTitle: 'Choice cost, lesion minus control (nats per experiment)',
      }),
      outDir,
    ),
    await writeFigure(dir, 'max-correlation-per-block', maxCorrelationChart(s.curves, { title: 'Two-step task: best latent per block, and a linear probe', smoothSigma: 0.5 }), outDir),
    await writeFigure(dir, 'latents-needed', sparseProbeFigure(s), outDir),
  ];
  figures.push(...(await latentFigure(dir, outDir, s.blocks, s.targets, s.lesionBlock, 'tdError', 'TD error')));
  return { bestLatents: s.bestLatents, interventions: s.interventions, probes: s.probes, paper: { ...PAPER_NUMBERS['two-step'] }, ours: { ...s.ours, ...probeFigures(s.probes), ...probeFigures(s.reconstructionProbes, 'reconstruction') }, figures };
}
