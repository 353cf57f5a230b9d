import type { TopLevelSpec } from 'vega-lite';
import type { ColorDef, Field, PositionFieldDef } from 'vega-lite/build/src/channeldef';
import type { LayerSpec } from 'vega-lite/build/src/spec';
import type { ColorScheme } from 'vega';
import type { Estimate } from '../stats';
import { themeConfig, VEGA_LITE_SCHEMA } from './theme';

/** A Vega-Lite specification: plain JSON, data inline. */
export type ChartSpec = TopLevelSpec;

/** One layer of a layered chart. */
export type Layer = LayerSpec<Field>['layer'][number];

/** An x or y encoding from a data field. */
export type Position = PositionFieldDef<Field>;

/** A colour encoding. */
export type Color = ColorDef<Field>;

/** Bad input to a chart builder: names the chart, the offending field and what was expected. */
export class ChartInputError extends Error {
  constructor(
    readonly chart: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${chart}: ${field} ${problem}`);
    this.name = 'ChartInputError';
  }
}

export function checkFinite(chart: string, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ChartInputError(chart, field, `is ${typeof value === 'number' ? String(value) : JSON.stringify(value) ?? 'undefined'}; expected a finite number`);
  }
  return value;
}

export function checkNonEmpty(chart: string, field: string, items: ArrayLike<unknown>, what: string): void {
  if (items.length === 0) throw new ChartInputError(chart, field, `is empty; expected at least one ${what}`);
}

/** Names used as legend entries or facets must be distinct, or their data would silently merge. */
export function checkDistinct(chart: string, field: string, names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new ChartInputError(chart, field, `repeats '${name}'; expected distinct names`);
    seen.add(name);
  }
}

export function checkEstimate(chart: string, field: string, e: Estimate): void {
  checkFinite(chart, `${field}.mean`, e.mean);
  checkInterval(chart, `${field}.ci95`, e.ci95);
}

/** A 95% interval's two ends: finite, lower first. Returns them. */
export function checkInterval(chart: string, field: string, ci95: readonly [number, number]): [number, number] {
  const [lo, hi] = [checkFinite(chart, `${field}[0]`, ci95[0]), checkFinite(chart, `${field}[1]`, ci95[1])];
  if (lo > hi) throw new ChartInputError(chart, field, `is [${lo}, ${hi}]; expected lower <= upper`);
  return [lo, hi];
}

/** The parts every chart shares: schema, title and the light neutral theme. */
export function topLevel(title: string, subtitle: readonly string[] = []): { $schema: string; title: { text: string; subtitle?: string[] }; config: ReturnType<typeof themeConfig> } {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: subtitle.length === 0 ? { text: title } : { text: title, subtitle: [...subtitle] },
    config: themeConfig(false),
  };
}

/** "100" or "95-100": the number of experiments behind a set of estimates. */
export function describeN(estimates: readonly Estimate[]): string {
  const ns = estimates.map((e) => e.n);
  const lo = Math.min(...ns);
  const hi = Math.max(...ns);
  return lo === hi ? `${lo}` : `${lo}\u2013${hi}`;
}

/** A number for a title: up to `digits` significant decimals, no trailing zeros. */
export function formatNumber(value: number, digits = 3): string {
  return String(Number(value.toPrecision(digits)));
}

/**
 * A nominal colour scale over the conditions named, in their order. The theme's ten
 * colours repeat past ten conditions, so more take a scheme of twenty.
 */
export function conditionScale(conditions: readonly string[]): { domain: string[]; scheme?: ColorScheme } {
  return conditions.length > CATEGORY_COLOURS ? { domain: [...conditions], scheme: 'tableau20' } : { domain: [...conditions] };
}

/** How many colours the theme's category scheme has. */
const CATEGORY_COLOURS = 10;
