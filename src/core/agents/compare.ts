import { checkKnownKeys, checkOneOf } from '../config';
import { fitModel, fitModelPerExperiment, fitOptions, FIT_DEFAULTS, informationCriteria, type FitOptions, type FitResult } from './fit';
import { checkFitData, type FitData } from './likelihood';
import { MYOPIC_Q_LEARNING, Q_LEARNING } from './qLearning';
import { REPETITION } from './repetition';
import type { ChoiceLatents, LearnerModel } from './types';

/** The models the paper compares on the two-step task. */
export const TWO_STEP_MODELS: readonly LearnerModel<ChoiceLatents>[] = [Q_LEARNING, MYOPIC_Q_LEARNING, REPETITION];

/** The paper's NLLs of Llama 3 70B's two-step choices (100 experiments x 30 episodes), to show beside a comparison. */
export const PAPER_TWO_STEP_NLL: Readonly<Record<string, number>> = { 'q-learning': 2729, 'myopic-q-learning': 2864, repetition: 5745 };

export const CRITERIA = ['nll', 'aic', 'bic'] as const;
export type Criterion = (typeof CRITERIA)[number];

/** `shared`: one parameter set for all experiments (the paper's fits); `per-experiment`: one per experiment, summed. */
export const POOLINGS = ['shared', 'per-experiment'] as const;
export type Pooling = (typeof POOLINGS)[number];

export interface CompareOptions extends FitOptions {
  /** The column the rows are sorted by, lowest first. */
  criterion: Criterion;
  pooling: Pooling;
}

export interface ComparisonRow {
  model: string;
  /** Free parameters in all (k per experiment x experiments when pooling per experiment). */
  k: number;
  nObservations: number;
  nll: number;
  aic: number;
  bic: number;
  /** The fitted parameters (shared pooling) or their means over experiments (per-experiment pooling). */
  params: Record<string, number>;
}

export interface Comparison {
  criterion: Criterion;
  pooling: Pooling;
  /** Sorted by the criterion, best first. */
  rows: ComparisonRow[];
  /** The best model's name. */
  best: string;
  /** Every model's fits, in the order the models were given (one per experiment when pooling per experiment). */
  fits: FitResult[][];
}

/** Fits every model to the same choices and ranks them by the criterion. */
export function compareModels(
  data: FitData,
  models: readonly LearnerModel<ChoiceLatents>[],
  options: Partial<CompareOptions> = {},
): Comparison {
  if (models.length === 0) throw new RangeError('compareModels needs at least one model');
  checkKnownKeys('compare', options, [...Object.keys(FIT_DEFAULTS), 'criterion', 'pooling']);
  const { criterion = 'bic', pooling = 'shared', ...rest } = options;
  checkOneOf('compare.criterion', criterion, CRITERIA);
  checkOneOf('compare.pooling', pooling, POOLINGS);
  const fitOpts = fitOptions(rest);
  checkFitData(data);
  const fits = models.map((m) => (pooling === 'shared' ? [fitModel(m, data, fitOpts)] : fitModelPerExperiment(m, data, fitOpts)));
  const rows = fits.map(summarise).sort((a, b) => a[criterion] - b[criterion]);
  return { criterion, pooling, rows, best: rows[0].model, fits };
}

function summarise(fits: FitResult[]): ComparisonRow {
  const nll = fits.reduce((s, f) => s + f.nll, 0);
  const k = fits.reduce((s, f) => s + f.k, 0);
  const n = fits.reduce((s, f) => s + f.nObservations, 0);
  // Per-experiment BIC penalises each parameter set by its own experiment's size.
  const bic = fits.reduce((s, f) => s + f.bic, 0);
  const params: Record<string, number> = {};
  for (const name of Object.keys(fits[0].params)) {
    params[name] = fits.reduce((s, f) => s + f.params[name], 0) / fits.length;
  }
  return { model: fits[0].model, k, nObservations: n, nll, aic: informationCriteria(nll, k, n).aic, bic, params };
}

/** The comparison as a Markdown table (or aligned plain text), best model first. */
export function formatComparison(comparison: Comparison, format: 'markdown' | 'text' = 'markdown'): string {
  const header = ['model', 'k', 'n', 'NLL', 'AIC', 'BIC', comparison.pooling === 'shared' ? 'parameters' : 'mean parameters'];
  const body = comparison.rows.map((r) => [
    r.model + (r.model === comparison.best ? ' *' : ''),
    String(r.k),
    String(r.nObservations),
    r.nll.toFixed(1),
    r.aic.toFixed(1),
    r.bic.toFixed(1),
    Object.entries(r.params)
      .map(([name, v]) => `${name}=${formatParam(v)}`)
      .join(' '),
  ]);
  const note = `* best by ${comparison.criterion.toUpperCase()} (${comparison.pooling} parameters)`;
  if (format === 'markdown') {
    const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
    const rule = header.map((_, i) => (i >= 1 && i <= 5 ? '---:' : '---'));
    return [line(header), line(rule), ...body.map(line), '', note].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const pad = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 1 && i <= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [pad(header), ...body.map(pad), note].join('\n');
}

function formatParam(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}
