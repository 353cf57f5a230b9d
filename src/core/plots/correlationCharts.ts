import { ChartInputError, checkFinite, checkNonEmpty, formatNumber, topLevel, type ChartSpec, type Color, type Position } from './common';
import { gaussianSmooth } from './smooth';

/** The best latent's correlation with a target in one block, under one condition. */
export interface BlockCorrelationRow {
  condition: string;
  /** e.g. 'Q-values' or 'TD errors'. */
  target: string;
  block: number;
  /** Typically the maximum |Pearson r| over the block's latents. */
  r: number;
}

export interface CorrelationChartOptions {
  title?: string;
  yTitle?: string;
  /**
   * Gaussian smoothing over blocks, in blocks (the paper uses 0.5). Applied here,
   * before the spec is built, and named in the subtitle; the raw value stays in
   * the tooltip. Default: no smoothing.
   */
  smoothSigma?: number;
}

/**
 * Max correlation per block, one panel per target (Q-values, TD errors; three
 * panels to a row) and one line per condition (the paper's Fig. 2G-H: clean
 * against lesioned).
 */
export function maxCorrelationChart(rows: readonly BlockCorrelationRow[], options: CorrelationChartOptions = {}): ChartSpec {
  const chart = 'maxCorrelationChart';
  const curves = blockCurves(chart, rows, options.smoothSigma ?? 0);
  const color: Color = { field: 'condition', type: 'nominal', title: 'Condition', scale: { domain: curves.conditions }, ...(curves.conditions.length > 1 ? {} : { legend: null }) };
  return {
    ...topLevel(options.title ?? 'Max correlation per block', [curves.subtitle]),
    width: 260,
    height: 220,
    data: { values: curves.values },
    mark: { type: 'line', strokeWidth: 2, point: curves.blocks <= MAX_BLOCKS_WITH_POINTS },
    encoding: {
      // Panels wrap, three to a row, so that a study with many targets stays narrow enough for a notebook cell.
      facet: { field: 'target', type: 'nominal', sort: curves.targets, title: null, columns: PANELS_PER_ROW },
      x: curves.x,
      y: curves.y(options.yTitle),
      color,
      tooltip: curves.tooltip,
    },
  };
}

/** A correlation of the best latent per block with one successor-representation target. */
export interface SrCorrelationRow {
  block: number;
  /** e.g. 'SR entries', 'SR TD errors', 'transition matrix', 'surprise'. */
  target: string;
  r: number;
  /** Set to compare conditions (e.g. clean against lesioned); drawn as line styles. */
  condition?: string;
}

/** The community graph's per-block correlations, one line per target and a line style per condition. */
export function srCorrelationChart(rows: readonly SrCorrelationRow[], options: CorrelationChartOptions = {}): ChartSpec {
  const chart = 'srCorrelationChart';
  const curves = blockCurves(chart, rows.map((r) => ({ ...r, condition: r.condition ?? '' })), options.smoothSigma ?? 0);
  const color: Color = { field: 'target', type: 'nominal', title: 'Target', scale: { domain: curves.targets } };
  return {
    ...topLevel(options.title ?? 'Successor-representation correlations per block', [curves.subtitle]),
    width: 420,
    height: 260,
    data: { values: curves.values },
    mark: { type: 'line', strokeWidth: 2, point: curves.blocks <= MAX_BLOCKS_WITH_POINTS },
    encoding: {
      x: curves.x,
      y: curves.y(options.yTitle),
      color,
      // The conditions' legend draws each dash as a line; the lines' points would make every symbol the same dot.
      ...(curves.conditions.length > 1 ? { strokeDash: { field: 'condition', type: 'nominal', title: 'Condition', sort: curves.conditions, legend: DASH_LEGEND } } : {}),
      tooltip: curves.tooltip,
    },
  };
}

/** A legend of line dashes, in a neutral colour since the colour scale stands for something else. */
const DASH_LEGEND = { symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 400, symbolStrokeColor: '#444444', symbolFillColor: 'transparent' };

/** Panels of the max-correlation chart side by side before it wraps. */
const PANELS_PER_ROW = 3;

/** Few blocks (a small model) are marked point by point; many (a 70B model's 80) would clutter. */
const MAX_BLOCKS_WITH_POINTS = 24;

function blockCurves(chart: string, rows: readonly BlockCorrelationRow[], sigma: number) {
  checkNonEmpty(chart, 'rows', rows, 'row');
  if (!(Number.isFinite(sigma) && sigma >= 0)) throw new ChartInputError(chart, 'options.smoothSigma', `is ${sigma}; expected a finite number >= 0`);
  const groups = new Map<string, { condition: string; target: string; points: { block: number; r: number }[] }>();
  rows.forEach((row, i) => {
    if (!Number.isInteger(row.block) || row.block < 0) throw new ChartInputError(chart, `rows[${i}].block`, `is ${row.block}; expected an integer >= 0`);
    checkFinite(chart, `rows[${i}].r`, row.r);
    const key = JSON.stringify([row.condition, row.target]);
    const group = groups.get(key) ?? { condition: row.condition, target: row.target, points: [] };
    if (group.points.some((p) => p.block === row.block)) {
      throw new ChartInputError(chart, `rows[${i}]`, `repeats block ${row.block} of target '${row.target}'${row.condition === '' ? '' : ` under '${row.condition}'`}; expected one row per block`);
    }
    group.points.push({ block: row.block, r: row.r });
    groups.set(key, group);
  });
  const values = [...groups.values()].flatMap(({ condition, target, points }) => {
    const sorted = [...points].sort((a, b) => a.block - b.block);
    const smoothed = gaussianSmooth(sorted.map((p) => p.r), sigma, sorted.map((p) => p.block));
    return sorted.map((p, i) => ({ condition, target, block: p.block, r: smoothed[i], raw: p.r }));
  });
  const blocks = values.map((v) => v.block);
  const [first, last] = [Math.min(...blocks), Math.max(...blocks)];
  const x: Position = {
    field: 'block',
    type: 'quantitative',
    title: 'Transformer block',
    scale: { domain: [first, Math.max(last, first + 1)], nice: false },
    // A few blocks get a tick each; the automatic ticks would fall between blocks.
    axis: last - first <= 24 ? { format: 'd', values: Array.from({ length: last - first + 1 }, (_, i) => first + i) } : { format: 'd', tickMinStep: 1 },
  };
  const y = (title = 'Max correlation over latents (r)'): Position => ({ field: 'r', type: 'quantitative', title, scale: { zero: true } });
  const smoothing = sigma > 0 ? `smoothed over blocks with a Gaussian (\u03c3 = ${formatNumber(sigma)} blocks)` : 'not smoothed';
  const tooltip = [
    ...(rows.some((r) => r.condition !== '') ? [{ field: 'condition', type: 'nominal' as const, title: 'Condition' }] : []),
    { field: 'target', type: 'nominal' as const, title: 'Target' },
    { field: 'block', type: 'quantitative' as const, title: 'Block' },
    { field: 'r', type: 'quantitative' as const, title: sigma > 0 ? 'r (smoothed)' : 'r', format: '.3f' },
    ...(sigma > 0 ? [{ field: 'raw', type: 'quantitative' as const, title: 'r (raw)', format: '.3f' }] : []),
  ];
  return {
    values,
    conditions: [...new Set(rows.map((r) => r.condition))],
    targets: [...new Set(rows.map((r) => r.target))],
    blocks: new Set(blocks).size,
    x,
    y,
    tooltip,
    subtitle: `Best latent per block; ${smoothing}`,
  };
}
