import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { PAPER_TWO_STEP_NLL } from '../agents/compare';
import { TASK_KINDS, type TaskKind } from '../envs/types';
import { compileSchema, ISO_TIME_SCHEMA, readJson, writeJsonAtomic } from './jsonFile';
import { targetFamily } from './targets';

/**
 * `results.json`: what a reproduction found, task by task, beside the paper's
 * figures. Described in FORMATS.md; a change of shape bumps {@link RESULTS_VERSION}.
 */
export const RESULTS_FORMAT = 'icrl-lens.results';
export const RESULTS_VERSION = 1;
export const RESULTS_FILE = 'results.json';

/** A number with, where known, its 95% interval, the range it was read as, the block it belongs to and a note. */
export interface Figure {
  value: number;
  ci95?: [number, number];
  /** A range read off a plot (the value is then its midpoint). */
  range?: [number, number];
  block?: number;
  note?: string;
}

/** Where a latent comes from: a trained SAE, the random-SAE baseline, or a raw residual dimension. */
export const LATENT_SOURCES = ['sae', 'random-sae', 'residual'] as const;
export type LatentSource = (typeof LATENT_SOURCES)[number];

export interface BestLatentResult {
  target: string;
  block: number;
  latent: number;
  r: number;
  /** Permutation p-value (family-wise over the block's latents); null when none was computed. */
  p: number | null;
  spearman?: number;
  /** 'sae' when absent. */
  source?: LatentSource;
}

/**
 * A linear probe's out-of-fold correlation with one target at one block: how much
 * of the target the whole residual stream carries, beside what one latent does
 * (cross-validated ridge, folds by experiment; see probe.ts).
 */
export interface ProbeReading {
  target: string;
  block: number;
  r: number;
}

export interface InterventionResult {
  /** e.g. 'none', 'reconstruction', 'lesion', 'control', 'scale-10'. */
  condition: string;
  /** e.g. 'return', 'nll', 'accuracy'. */
  metric: string;
  value: number;
  ci95: [number, number];
}

export interface TaskResult {
  /** The best latent per target and block (and source). */
  bestLatents: BestLatentResult[];
  interventions: InterventionResult[];
  /** Linear probes of the residual stream, per target and block (absent from results written before probes were run). */
  probes?: ProbeReading[];
  /** The paper's figures for this task (see {@link PAPER_NUMBERS}). */
  paper: Record<string, Figure>;
  /**
   * Our figures that are not in `bestLatents` or `interventions` (model NLLs,
   * returns, ...), under the same names as the paper's where there is one.
   */
  ours: Record<string, Figure>;
  /** File names of the figures drawn, relative to the results file. */
  figures: string[];
}

export interface Results {
  format: typeof RESULTS_FORMAT;
  version: typeof RESULTS_VERSION;
  model: string;
  modelHash: string;
  seed: number;
  config: Record<string, unknown>;
  /** ISO 8601 time the run started. */
  createdAt?: string;
  tasks: Partial<Record<TaskKind, TaskResult>>;
}

/**
 * The published figures (Demircan et al., ICLR 2025), by name. Names:
 * `maxR.<target family>` the largest correlation of a latent with the target;
 * `modelNll.<model>` the NLL of the LLM's choices under a fitted model;
 * `intervention.<metric>.<condition>` an intervention's effect, conditions
 * 'none' (no intervention), 'lesion' (the TD latent off), 'control' (the
 * least-correlated latent off). Values read off plots carry a note.
 */
export const PAPER_NUMBERS: Readonly<Record<TaskKind, Readonly<Record<string, Figure>>>> = {
  'two-step': {
    'maxR.tdError': { value: 0.58, block: 34 },
    ...Object.fromEntries(Object.entries(PAPER_TWO_STEP_NLL).map(([model, nll]) => [`modelNll.${model}`, { value: nll }])),
    'intervention.return.none': { value: 4.9, block: 34, note: 'about; late in the task, read off Fig. 2E' },
    'intervention.return.lesion': { value: 4.4, block: 34, note: 'about; late in the task, read off Fig. 2E' },
    'intervention.nll.none': { value: 2720, block: 34, note: 'about; Q-learning NLL of the choices' },
    'intervention.nll.lesion': { value: 2930, block: 34, note: 'about; Q-learning NLL of the choices' },
    'intervention.nll.control': { value: 2615, block: 34, note: 'about; least-correlated latent off' },
    'intervention.lateMaxR.tdError.none': { value: 0.45, range: [0.3, 0.6], note: 'max TD-error correlation beyond block 55' },
    'intervention.lateMaxR.tdError.lesion': { value: 0.05, range: [0, 0.1], note: 'max TD-error correlation beyond block 55' },
    'intervention.lateMaxR.qValue.none': { value: 0.575, range: [0.5, 0.65], note: 'max Q-value correlation beyond block 55' },
    'intervention.lateMaxR.qValue.lesion': { value: 0.375, range: [0.3, 0.45], note: 'max Q-value correlation beyond block 55' },
  },
  grid: {
    'maxR.tdError': { value: 0.75, note: 'four TD-error latents with r >= 0.75' },
  },
  graph: {
    'maxR.sr': { value: 0.62 },
    'maxR.srTd': { value: 0.6 },
    'maxR.trans': { value: 0.49, note: 'the transition matrix' },
    'maxR.surprise': { value: 0.18 },
    'intervention.accuracy.none': { value: 0.243, block: 64 },
    'intervention.accuracy.lesion': { value: 0.189, block: 64, note: 'one TD latent off' },
  },
};

/** One row of a side-by-side table: a quantity, the paper's figure and ours (null where one is missing). */
export interface SideBySideRow {
  quantity: string;
  paper: Figure | null;
  ours: Figure | null;
}

/**
 * The paper's figures beside ours. Ours come from `ours` when it names the
 * quantity, else are derived: `maxR.<family>` from the SAE's best latents (the
 * largest |r| over blocks and the family's targets, signed), and
 * `intervention.<metric>.<condition>` from the interventions. Quantities only
 * we have follow the paper's.
 */
export function sideBySide(task: TaskResult): SideBySideRow[] {
  const names = [...Object.keys(task.paper), ...Object.keys(task.ours).filter((q) => !(q in task.paper))];
  return names.map((quantity) => ({ quantity, paper: task.paper[quantity] ?? null, ours: task.ours[quantity] ?? derived(task, quantity) }));
}

/** The largest |r| (signed) over blocks of a target family's best latents from one source (default the SAE), as a figure; null when there is none. */
export function maxRFigure(bestLatents: readonly BestLatentResult[], family: string, source: LatentSource = 'sae'): Figure | null {
  let best: BestLatentResult | null = null;
  for (const b of bestLatents) {
    if ((b.source ?? 'sae') !== source || targetFamily(b.target) !== family) continue;
    if (best === null || Math.abs(b.r) > Math.abs(best.r)) best = b;
  }
  return best && { value: best.r, block: best.block, note: `${SOURCE_UNIT[source]} ${best.latent}, ${best.target}` };
}

/**
 * Per target family of the probes, `probe.<family>`: the largest out-of-fold r over
 * blocks and the family's targets (for a family of many columns, such as the SR's,
 * its best column); for probes of the SAE's reconstruction, `probe.reconstruction.<family>`.
 */
export function probeFigures(probes: readonly ProbeReading[], of: 'residual' | 'reconstruction' = 'residual'): Record<string, Figure> {
  const best = new Map<string, ProbeReading>();
  for (const p of probes) {
    const family = targetFamily(p.target);
    const now = best.get(family);
    if (Number.isFinite(p.r) && (now === undefined || p.r > now.r)) best.set(family, p);
  }
  return Object.fromEntries(
    [...best].map(([family, p]) =>
      of === 'residual'
        ? [`probe.${family}`, { value: p.r, block: p.block, note: `linear probe of the residual stream, ${p.target}, out-of-fold r` }]
        : [`probe.reconstruction.${family}`, { value: p.r, block: p.block, note: `linear probe of the SAE's reconstruction of the residual stream, ${p.target}, out-of-fold r` }],
    ),
  );
}

/** What a best "latent" of each source is, as a figure's note names it. */
const SOURCE_UNIT: Record<LatentSource, string> = { sae: 'latent', 'random-sae': 'random-SAE latent', residual: 'residual dimension' };

function derived(task: TaskResult, quantity: string): Figure | null {
  const [kind, ...rest] = quantity.split('.');
  if (kind === 'maxR' && rest.length === 1) return maxRFigure(task.bestLatents, rest[0]);
  if (kind === 'intervention' && rest.length === 2) {
    const found = task.interventions.find((i) => i.metric === rest[0] && i.condition === rest[1]);
    return found ? { value: found.value, ci95: found.ci95 } : null;
  }
  return null;
}

const number = { type: 'number' };
const interval = { type: 'array', items: number, minItems: 2, maxItems: 2 };
const correlation = { type: 'number', minimum: -1, maximum: 1 };

const FIGURE_SCHEMA = {
  type: 'object',
  properties: {
    value: number,
    ci95: interval,
    range: interval,
    block: { type: 'integer', minimum: 0 },
    note: { type: 'string' },
  },
  required: ['value'],
  additionalProperties: false,
};

const TASK_SCHEMA = {
  type: 'object',
  properties: {
    bestLatents: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          target: { type: 'string', minLength: 1 },
          block: { type: 'integer', minimum: 0 },
          latent: { type: 'integer', minimum: 0 },
          r: correlation,
          p: { anyOf: [{ type: 'number', minimum: 0, maximum: 1 }, { type: 'null' }] },
          spearman: correlation,
          source: { enum: [...LATENT_SOURCES] },
        },
        required: ['target', 'block', 'latent', 'r', 'p'],
        additionalProperties: false,
      },
    },
    interventions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          condition: { type: 'string', minLength: 1 },
          metric: { type: 'string', minLength: 1 },
          value: number,
          ci95: interval,
        },
        required: ['condition', 'metric', 'value', 'ci95'],
        additionalProperties: false,
      },
    },
    probes: {
      type: 'array',
      items: {
        type: 'object',
        properties: { target: { type: 'string', minLength: 1 }, block: { type: 'integer', minimum: 0 }, r: correlation },
        required: ['target', 'block', 'r'],
        additionalProperties: false,
      },
    },
    paper: { type: 'object', additionalProperties: FIGURE_SCHEMA },
    ours: { type: 'object', additionalProperties: FIGURE_SCHEMA },
    figures: { type: 'array', items: { type: 'string', minLength: 1 } },
  },
  required: ['bestLatents', 'interventions', 'paper', 'ours', 'figures'],
  additionalProperties: false,
};

/** The JSON schema of {@link Results} (draft-07, as ajv checks it). */
export const RESULTS_SCHEMA = {
  $id: 'icrl-lens.results/1',
  type: 'object',
  properties: {
    format: { const: RESULTS_FORMAT },
    version: { const: RESULTS_VERSION },
    model: { type: 'string' },
    modelHash: { type: 'string', minLength: 1 },
    seed: { type: 'integer' },
    config: { type: 'object' },
    createdAt: ISO_TIME_SCHEMA,
    tasks: {
      type: 'object',
      properties: Object.fromEntries(TASK_KINDS.map((k) => [k, TASK_SCHEMA])),
      additionalProperties: false,
    },
  },
  required: ['format', 'version', 'model', 'modelHash', 'seed', 'config', 'tasks'],
  additionalProperties: false,
};

const validateResults = compileSchema<Results>(RESULTS_SCHEMA);

/** Writes the results file (creating its folder), atomically, after checking it against the schema. */
export async function writeResults(file: string, results: Results): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeJsonAtomic(file, results, validateResults);
}

/** Reads and validates a results file; a malformed one is a `JsonFormatError` naming the file and its first problem. */
export async function readResults(file: string): Promise<Results> {
  return readJson(file, validateResults);
}
