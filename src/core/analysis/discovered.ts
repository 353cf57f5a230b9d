import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TASK_KINDS, type TaskKind } from '../envs/types';
import { compileSchema, ISO_TIME_SCHEMA, readJson, writeJsonAtomic } from './jsonFile';
import type { LatentScan, LatentStats } from './scan';

/**
 * Discovered latents: the latents that track a target best, ranked, with
 * everything needed to find them again (model, block, latent, the SAE) and to
 * redo the run that found them (seed, configuration). The latent tree view reads
 * this file. The format is described in FORMATS.md; a change of shape bumps
 * {@link LATENTS_VERSION}.
 */
export const LATENTS_FORMAT = 'icrl-lens.latents';
export const LATENTS_VERSION = 1;
/** The file's name inside the workspace results folder (`.icrl-lens/`). */
export const LATENTS_FILE = 'latents.json';

/** The run that produced a result. */
export interface RunInfo {
  /** {@link runId} of the model hash, seed and configuration. */
  id: string;
  seed: number;
  /** ISO 8601 time the run started. */
  createdAt: string;
  config: Record<string, unknown>;
}

export interface DiscoveredLatent {
  task: TaskKind;
  model: string;
  modelHash: string;
  block: number;
  latent: number;
  target: string;
  /** Pearson r with the target, over the rows of the run. */
  r: number;
  spearman: number;
  /** Permutation p-value, family-wise over the block's latents; null when the run made no permutations. */
  p: number | null;
  stats: LatentStats;
  /** The SAE the latent belongs to (a SAELens folder), relative to the file's folder; absent when unknown. */
  sae?: string;
  run: RunInfo;
}

export interface LatentsFile {
  format: typeof LATENTS_FORMAT;
  version: typeof LATENTS_VERSION;
  model: string;
  modelHash: string;
  seed: number;
  config: Record<string, unknown>;
  /** Ranked: largest |r| first. */
  latents: DiscoveredLatent[];
}

/** A short, stable id of a run: the first 12 hex digits of the SHA-256 of its model hash, seed and configuration (keys sorted). */
export function runId(modelHash: string, seed: number, config: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson({ modelHash, seed, config })).digest('hex').slice(0, 12);
}

/** JSON with every object's keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export interface DiscoverOptions {
  task: TaskKind;
  model: string;
  modelHash: string;
  run: RunInfo;
  /** One scan per block (see `scanLatents`), with the block's SAE folder when known. */
  scans: readonly { block: number; scan: LatentScan; sae?: string }[];
  /** Keep only latents with p at most this (latents without a p are kept only when this is 1). Default 1. */
  maxP?: number;
  /** Targets to keep (all when absent). */
  targets?: readonly string[];
}

/** The best latent of every block and target, ranked; targets without a correlation are left out. */
export function discoverLatents(o: DiscoverOptions): DiscoveredLatent[] {
  const maxP = o.maxP ?? 1;
  const found: DiscoveredLatent[] = [];
  for (const { block, scan, sae } of o.scans) {
    for (const b of scan.best) {
      if (b.stats === null || (o.targets !== undefined && !o.targets.includes(b.target))) continue;
      if (b.p === null ? maxP < 1 : b.p > maxP) continue;
      found.push({
        task: o.task,
        model: o.model,
        modelHash: o.modelHash,
        block,
        latent: b.latent,
        target: b.target,
        r: b.r,
        spearman: b.spearman,
        p: b.p,
        stats: { ...b.stats },
        ...(sae === undefined ? {} : { sae }),
        run: o.run,
      });
    }
  }
  return rankDiscovered(found);
}

/** Largest |r| first; then smaller p, lower block, lower latent, so the order is total. */
export function rankDiscovered(latents: readonly DiscoveredLatent[]): DiscoveredLatent[] {
  return [...latents].sort(
    (a, b) => Math.abs(b.r) - Math.abs(a.r) || (a.p ?? 1) - (b.p ?? 1) || a.block - b.block || a.latent - b.latent || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0),
  );
}

export function latentsFile(header: Pick<LatentsFile, 'model' | 'modelHash' | 'seed' | 'config'>, latents: readonly DiscoveredLatent[]): LatentsFile {
  return {
    format: LATENTS_FORMAT,
    version: LATENTS_VERSION,
    model: header.model,
    modelHash: header.modelHash,
    seed: header.seed,
    config: header.config,
    latents: rankDiscovered(latents),
  };
}

const finite = { type: 'number' };
const probability = { type: 'number', minimum: 0, maximum: 1 };
const correlation = { type: 'number', minimum: -1, maximum: 1 };
const index = { type: 'integer', minimum: 0 };

const RUN_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1 },
    seed: { type: 'integer' },
    createdAt: ISO_TIME_SCHEMA,
    config: { type: 'object' },
  },
  required: ['id', 'seed', 'createdAt', 'config'],
  additionalProperties: false,
};

/** The JSON schema of {@link LatentsFile} (draft-07, as ajv checks it). */
export const LATENTS_SCHEMA = {
  $id: 'icrl-lens.latents/1',
  type: 'object',
  properties: {
    format: { const: LATENTS_FORMAT },
    version: { const: LATENTS_VERSION },
    model: { type: 'string' },
    modelHash: { type: 'string', minLength: 1 },
    seed: { type: 'integer' },
    config: { type: 'object' },
    latents: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          task: { enum: [...TASK_KINDS] },
          model: { type: 'string' },
          modelHash: { type: 'string', minLength: 1 },
          block: index,
          latent: index,
          target: { type: 'string', minLength: 1 },
          r: correlation,
          spearman: correlation,
          p: { anyOf: [probability, { type: 'null' }] },
          stats: {
            type: 'object',
            properties: { mean: finite, sd: { type: 'number', minimum: 0 }, fireRate: probability, max: finite },
            required: ['mean', 'sd', 'fireRate', 'max'],
            additionalProperties: false,
          },
          sae: { type: 'string', minLength: 1 },
          run: RUN_SCHEMA,
        },
        required: ['task', 'model', 'modelHash', 'block', 'latent', 'target', 'r', 'spearman', 'p', 'stats', 'run'],
        additionalProperties: false,
      },
    },
  },
  required: ['format', 'version', 'model', 'modelHash', 'seed', 'config', 'latents'],
  additionalProperties: false,
};

const validateLatents = compileSchema<LatentsFile>(LATENTS_SCHEMA);

/** Writes `<folder>/<name>` (creating the folder), atomically; returns the file's path. */
export async function writeLatents(folder: string, file: LatentsFile, name = LATENTS_FILE): Promise<string> {
  await mkdir(folder, { recursive: true });
  const path = join(folder, name);
  await writeJsonAtomic(path, file, validateLatents);
  return path;
}

/** Reads and validates `<folder>/<name>`; a malformed file is a `JsonFormatError` naming it and its first problem. */
export async function readLatents(folder: string, name = LATENTS_FILE): Promise<LatentsFile> {
  return readJson(join(folder, name), validateLatents);
}
