import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { saeDelta, type Edit } from '../analysis/interventions';
import type { BestLatentResult, InterventionResult, ProbeReading } from '../analysis/results';
import { targetFamily, type TargetTable } from '../analysis/targets';
import { ResidualRecorder, watchTranscripts, type DeltaFn, type WatchedTranscript } from '../lm';
import type { Transcript } from '../prompts/transcript';
import { SaeSession, type TrainOptions } from '../sae';
import { estimate, mean, pairedDifference, type Estimate } from '../stats';
import { asResult, bestLatentResults, describeLesionSets, lesionSets, probeReadings, studyBlocks, type BlockStudy } from './blocks';
import { spliceSequences, type StudyContext } from './twoStep';

/** Options of the tasks the model watches (grid agents, graph walks). */
export interface WatchStudyOptions {
  experiments: number;
  episodes: number;
  seed: number;
  sae: Partial<TrainOptions>;
  permutations: number;
  /** How many of the best latents for the lesion target are lesioned (the control: as many least-correlated ones). */
  lesionLatents: number;
}

export const WATCH_STUDY_DEFAULTS: WatchStudyOptions = {
  experiments: 100,
  episodes: 30,
  seed: 7001,
  sae: { architecture: 'standard', expansionFactor: 8, epochs: 15, batchSize: 256 },
  permutations: 200,
  lesionLatents: 4,
};

export interface WatchCondition {
  condition: string;
  watched: WatchedTranscript[];
  /** Mean accuracy over all episodes, per experiment. */
  accuracy: number[];
  accuracyPerEpisode: Estimate[];
  /**
   * Mean log-probability the model gave the answers that came, per experiment:
   * the continuous counterpart of accuracy, which moves with every change of
   * the model's prediction and not only with those that flip its best guess.
   */
  logProb: number[];
}

export interface WatchStudy {
  blocks: BlockStudy[];
  targets: TargetTable;
  lesionBlock: number;
  /** The target column whose best-tracking latents were lesioned. */
  lesionTarget: string;
  lesioned: { latent: number; r: number }[];
  control: { latent: number; r: number }[];
  conditions: WatchCondition[];
  bestLatents: BestLatentResult[];
  /** Linear probes of each block's residual stream at the answer points. */
  probes: ProbeReading[];
  /** The same probes of the SAE's reconstruction of the residual stream. */
  reconstructionProbes: ProbeReading[];
  interventions: InterventionResult[];
}

/**
 * The study for a task the model watches: it reads the transcripts while its
 * residual stream is recorded at every answer point, an SAE per block is scanned
 * against the targets, and the latents that track `lesionTarget` best are
 * lesioned (against as many least-correlated ones, and the full-reconstruction
 * splice) to see what happens to its predictions.
 */
export async function watchStudy(
  ctx: StudyContext,
  task: 'grid' | 'graph',
  transcripts: readonly Transcript<unknown>[],
  targetsOf: (watched: WatchedTranscript[]) => TargetTable,
  /** The target family whose best-tracking latents are lesioned (its column with the highest |r| is used). */
  lesionFamily: string,
  o: WatchStudyOptions,
  /** The target columns a linear probe of each block is fitted to. */
  probeTargets: (targets: TargetTable) => readonly string[] = () => [],
): Promise<WatchStudy> {
  const { model, log } = ctx;
  const blocks = model.info.blocks.map((_, i) => i);
  log(`${task}: the model watches ${transcripts.length} experiments, recording ${blocks.length} blocks`);
  const dir = join(ctx.outDir, 'activations', `${task}-clean`);
  await rm(dir, { recursive: true, force: true });
  const recorder = await ResidualRecorder.open(dir, blocks, model.info.dModel, 'every');
  const clean = await watchTranscripts(model, transcripts, {}, { recorder, signal: ctx.signal });
  await recorder.close();
  const targets = targetsOf(clean);
  const studies = await studyBlocks(dir, targets, {
    sae: o.sae,
    permutations: o.permutations,
    seed: o.seed,
    probeTargets: probeTargets(targets),
    outDir: ctx.outDir,
    saeDir: join('saes', task),
    modelName: ctx.modelName,
    splice: { model, sequences: spliceSequences(model, transcripts.map((t) => t.text)) },
    log,
    signal: ctx.signal,
  });
  const candidates = studies.flatMap((s) => s.scan.best.filter((b) => targetFamily(b.target) === lesionFamily && Number.isFinite(b.r)).map((b) => ({ study: s, b })));
  if (candidates.length === 0) throw new Error(`${task}: no latent correlates with any '${lesionFamily}' target, so there is nothing to lesion`);
  const strongest = candidates.reduce((x, y) => (Math.abs(y.b.r) > Math.abs(x.b.r) ? y : x));
  const lesionStudy = strongest.study;
  const lesionTarget = strongest.b.target;
  const { lesioned, control } = lesionSets(lesionStudy, targets, lesionTarget, o.lesionLatents);
  log(`${task}: lesion block ${lesionStudy.block}, ${lesionTarget} latents: ${describeLesionSets({ lesioned, control })}`);

  const session = SaeSession.create(lesionStudy.sae);
  const conditions: WatchCondition[] = [condition('none', clean)];
  const edits: [string, Edit][] = [
    ['reconstruction', { kind: 'reconstruct' }],
    ['lesion', { kind: 'latents', latents: lesioned.map((l) => l.latent), op: { kind: 'ablate' } }],
    ['control', { kind: 'latents', latents: control.map((l) => l.latent), op: { kind: 'ablate' } }],
  ];
  for (const [name, edit] of edits) {
    log(`${task}: watching again under '${name}' at block ${lesionStudy.block}`);
    const interventions: Record<number, DeltaFn> = { [lesionStudy.block]: saeDelta(session, { block: lesionStudy.block, edit, at: 'all' }) };
    conditions.push(condition(name, await watchTranscripts(model, transcripts, {}, { interventions, signal: ctx.signal })));
  }
  await session.release();

  const byName = new Map(conditions.map((c) => [c.condition, c]));
  const lesionOutcome = byName.get('lesion')!;
  const controlOutcome = byName.get('control')!;
  const interventions: InterventionResult[] = conditions.flatMap((c) => [
    { condition: c.condition, metric: 'accuracy', ...asResult(estimate(c.accuracy)) },
    { condition: c.condition, metric: 'log-prob', ...asResult(estimate(c.logProb)) },
  ]);
  interventions.push(
    { condition: 'lesion-minus-control', metric: 'accuracy', ...asResult(pairedDifference(lesionOutcome.accuracy, controlOutcome.accuracy)) },
    { condition: 'lesion-minus-control', metric: 'log-prob', ...asResult(pairedDifference(lesionOutcome.logProb, controlOutcome.logProb)) },
  );
  const bestLatents = bestLatentResults(studies);
  return { blocks: studies, targets, lesionBlock: lesionStudy.block, lesionTarget, lesioned, control, conditions, bestLatents, probes: probeReadings(studies), reconstructionProbes: probeReadings(studies, 'reconstruction'), interventions };
}

export function condition(name: string, watched: WatchedTranscript[]): WatchCondition {
  return {
    condition: name,
    watched,
    accuracy: watched.map((w) => mean(w.accuracyPerEpisode)),
    accuracyPerEpisode: watched[0].accuracyPerEpisode.map((_, e) => estimate(watched.map((w) => w.accuracyPerEpisode[e]))),
    logProb: watched.map((w) => mean(w.logProbPerEpisode)),
  };
}
