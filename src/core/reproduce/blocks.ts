import { join } from 'node:path';
import { correlate, prepareLatents } from '../analysis/correlate';
import { randomSae, fireRates } from '../analysis/randomSae';
import { ridgeProbes } from '../analysis/probe';
import type { BestLatentResult, ProbeReading } from '../analysis/results';
import { scanLatents, type LatentScan } from '../analysis/scan';
import { gatherRows, selectTargets, targetColumn, type TargetTable } from '../analysis/targets';
import type { LanguageModel } from '../lm';
import type { Estimate } from '../stats';
import { ActivationStore, evaluateSae, saveSae, SaeSession, trainSaes, type Sae, type SaeEvaluation, type TrainOptions } from '../sae';

/** What the study learns about one block: its SAE and the three scans (SAE latents, random SAE, raw residual). */
export interface BlockStudy {
  block: number;
  sae: Sae;
  /** The SAE's folder, relative to the run's output folder. */
  saeFolder: string;
  /** SAE latent activations at the target rows, [rows, d_sae]. */
  acts: Float32Array;
  scan: LatentScan;
  randomScan: LatentScan;
  residualScan: LatentScan;
  /** A linear probe of the residual stream for each of the targets asked for. */
  probes: { target: string; r: number }[];
  /** The same probes fitted to the SAE's reconstruction of those rows: what of each target the SAE keeps. */
  reconstructionProbes: { target: string; r: number }[];
  /** FVU, L0 and dead fraction on every recorded row (the SAE's training data); CE loss recovered on the splice sequences. */
  evaluation: Pick<SaeEvaluation, 'mse' | 'fvu' | 'l0' | 'deadFraction' | 'ceLossRecovered'>;
}

export interface BlockStudyOptions {
  sae: Partial<TrainOptions>;
  permutations: number;
  seed: number;
  /** The target columns a linear probe of the residual stream is fitted to, per block (none when absent). */
  probeTargets?: readonly string[];
  /** Where SAELens folders are written: <outDir>/<saeDir>/block-<L>. */
  outDir: string;
  saeDir: string;
  modelName: string;
  /** The model and some transcripts' token ids, to measure the CE loss recovered with each SAE spliced in. */
  splice: { model: LanguageModel; sequences: number[][] };
  log: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * Trains one SAE per block on the recorded residual stream (all blocks in one
 * pass over the store), saves each as a SAELens folder, and scans its latents,
 * a random SAE's of the same width and the raw residual dimensions against the
 * targets (the SAE's with a permutation null).
 */
export async function studyBlocks(storeDir: string, targets: TargetTable, o: BlockStudyOptions): Promise<BlockStudy[]> {
  const store = await ActivationStore.open(storeDir);
  const blocks = store.blocks;
  o.log(`training ${blocks.length} SAEs on ${store.rowCount} rows of d_model ${store.dModel}`);
  // A short run records fewer rows than a batch: the batch shrinks to fit rather than the run failing.
  const batchSize = Math.min(o.sae.batchSize ?? 256, store.rowCount);
  const trained = await trainSaes(store, [...blocks], { seed: o.seed, ...o.sae, batchSize }, {
    signal: o.signal,
    metadataFor: (block) => ({ model_name: o.modelName, hook_name: `resid.${block}`, hook_layer: block }),
  });
  const studies: BlockStudy[] = [];
  for (const block of blocks) {
    o.signal?.throwIfAborted();
    const { sae } = trained.get(block)!;
    const saeFolder = join(o.saeDir, `block-${block}`);
    await saveSae(join(o.outDir, saeFolder), sae);
    const residual = gatherRows(await store.readAll(block), store.dModel, targets.rows!);
    const session = SaeSession.create(sae);
    const acts = await session.encode(residual);
    const reconstruction = await session.decode(acts);
    const evaluation = await evaluateSae(sae, store.source(block), { session, splice: { ...o.splice, block }, signal: o.signal });
    await session.release();
    const random = SaeSession.create(randomSae(residual, store.dModel, { dSae: sae.dSae, seed: o.seed + block, fireRate: fireRates(acts, sae.dSae) }));
    const randomActs = await random.encode(residual);
    await random.release();
    const study: BlockStudy = {
      block,
      sae,
      saeFolder,
      acts,
      scan: scanLatents(acts, sae.dSae, targets, { permutations: o.permutations, seed: o.seed }, o.signal),
      randomScan: scanLatents(randomActs, sae.dSae, targets, { permutations: 0 }),
      residualScan: scanLatents(residual, store.dModel, targets, { permutations: 0 }),
      probes: probeColumns(residual, store.dModel, targets, o.probeTargets ?? []),
      reconstructionProbes: probeColumns(reconstruction, store.dModel, targets, o.probeTargets ?? []),
      evaluation: { mse: evaluation.mse, fvu: evaluation.fvu, l0: evaluation.l0, deadFraction: evaluation.deadFraction, ceLossRecovered: evaluation.ceLossRecovered },
    };
    const td = study.scan.best.find((b) => b.target === 'tdError');
    const tdProbe = study.probes.find((p) => p.target === 'tdError');
    const tdKept = study.reconstructionProbes.find((p) => p.target === 'tdError');
    const e = study.evaluation;
    o.log(
      `  block ${block}: FVU ${e.fvu.toFixed(3)}, L0 ${e.l0.toFixed(1)}, dead ${(100 * e.deadFraction).toFixed(1)}%, CE loss recovered ${e.ceLossRecovered?.toFixed(3)}` +
        (td ? `; best TD-error latent ${td.latent}, r ${td.r.toFixed(3)}, p ${td.p}` : '') +
        (tdProbe ? `; linear probe r ${tdProbe.r.toFixed(3)} (of the SAE's reconstruction ${tdKept?.r.toFixed(3)})` : ''),
    );
    studies.push(study);
  }
  return studies;
}

/** Latents ordered by |r| with one target, most correlated first; constant (dead) latents left out. */
export function latentsByCorrelation(study: BlockStudy, targets: TargetTable, target: string): RankedLatent[] {
  const columns = prepareLatents(study.acts, study.sae.dSae);
  const m = correlate(columns, selectTargets(targets, [target]));
  const d = study.sae.dIn;
  const wDec = study.sae.params.W_dec;
  const out: RankedLatent[] = [];
  for (let j = 0; j < study.sae.dSae; j++) {
    if (!Number.isFinite(m.r[j])) continue;
    let norm = 0;
    for (let k = 0; k < d; k++) norm += wDec[j * d + k] ** 2;
    out.push({ latent: j, r: m.r[j], weight: columns.mean[j] * Math.sqrt(norm) });
  }
  return out.sort((a, b) => Math.abs(b.r) - Math.abs(a.r));
}

/** A latent ranked by its correlation with a target, and how much of the residual stream it carries at the rows correlated. */
export interface RankedLatent {
  latent: number;
  r: number;
  /** Mean activation times the norm of its decoder row: the average size of what ablating it removes. */
  weight: number;
}

/**
 * The latents to lesion (the n most correlated with the target) and the control
 * set: the n least correlated among the latents that carry at least as much of
 * the residual stream as the lightest lesioned one (by {@link RankedLatent.weight}),
 * so that the control removes as much as the lesion and differs only in what it
 * removes. A latent that barely fires has almost no correlation with anything,
 * and ablating it changes nothing: a control of such latents would be the clean
 * run again. Where too few latents are as heavy, the heaviest of the rest fill
 * the set.
 */
export function lesionSets(study: BlockStudy, targets: TargetTable, target: string, n: number): { lesioned: RankedLatent[]; control: RankedLatent[] } {
  const ranked = latentsByCorrelation(study, targets, target);
  const lesioned = ranked.slice(0, n);
  const rest = ranked.slice(n);
  const lightest = Math.min(...lesioned.map((l) => l.weight));
  const control = rest.filter((l) => l.weight >= lightest).slice(-n).reverse();
  if (control.length < n) {
    const chosen = new Set(control.map((l) => l.latent));
    control.push(...rest.filter((l) => !chosen.has(l.latent)).sort((a, b) => b.weight - a.weight).slice(0, n - control.length));
  }
  return { lesioned, control };
}

/** The lesioned and control latents as the progress log shows them: each with its r and weight. */
export function describeLesionSets(sets: { lesioned: readonly RankedLatent[]; control: readonly RankedLatent[] }): string {
  const list = (ls: readonly RankedLatent[]) => ls.map((l) => `${l.latent} (r ${l.r.toFixed(3)}, weight ${l.weight.toPrecision(3)})`).join(', ');
  return `lesioned ${list(sets.lesioned)}; control ${list(sets.control)}`;
}

/** Every block's best latent per target, from the SAE and from both baselines, as results.json lists them. */
export function bestLatentResults(studies: readonly BlockStudy[]): BestLatentResult[] {
  return studies.flatMap((s) =>
    (['sae', 'random-sae', 'residual'] as const).flatMap((source) =>
      (source === 'sae' ? s.scan : source === 'random-sae' ? s.randomScan : s.residualScan).best
        .filter((b) => b.latent >= 0)
        .map((b) => ({ target: b.target, block: s.block, latent: b.latent, r: b.r, p: b.p, spearman: b.spearman, source })),
    ),
  );
}

/**
 * A linear probe of residual rows for each named target column (cross-validated
 * ridge, folds by the table's experiments): what the block carries of each
 * target, against which its best single latent is read.
 */
export function probeColumns(residual: Float32Array, dModel: number, table: TargetTable, names: readonly string[]): { target: string; r: number }[] {
  if (names.length === 0) return [];
  const fits = ridgeProbes(residual, dModel, names.map((name) => targetColumn(table, name)), table.groups);
  return names.map((target, k) => ({ target, r: fits[k].r }));
}

/** Every block's probes, as results.json lists them (of the raw residual stream, or with `'reconstruction'` of the SAE's reconstruction). */
export function probeReadings(
  studies: readonly { block: number; probes: readonly { target: string; r: number }[]; reconstructionProbes: readonly { target: string; r: number }[] }[],
  of: 'residual' | 'reconstruction' = 'residual',
): ProbeReading[] {
  return studies.flatMap((s) =>
    (of === 'residual' ? s.probes : s.reconstructionProbes).filter((p) => Number.isFinite(p.r)).map((p) => ({ target: p.target, block: s.block, r: p.r })),
  );
}

/** An estimate as an intervention result's value and interval. */
export function asResult(e: Estimate): { value: number; ci95: [number, number] } {
  return { value: e.mean, ci95: e.ci95 };
}

