import type { Config } from 'vega-lite';

/** The Vega-Lite version every chart is written for. */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/**
 * The neutral theme of every chart, for a light (`dark = false`) or dark host.
 * Charts carry the light theme; a dark host merges `themeConfig(true)` over it.
 * The background is transparent so the host's shows through; a standalone file
 * gets one when it is rendered (see `renderSvg`).
 */
export function themeConfig(dark: boolean): Config {
  const text = dark ? '#d4d4d4' : '#333333';
  const muted = dark ? '#a0a0a0' : '#666666';
  const grid = dark ? '#3c3c3c' : '#e6e6e6';
  const domain = dark ? '#808080' : '#999999';
  const axisColors = { labelColor: text, titleColor: text, gridColor: grid, domainColor: domain, tickColor: domain };
  return {
    background: 'transparent',
    font: 'system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif',
    padding: 8,
    title: { color: text, subtitleColor: muted, fontSize: 14, subtitleFontSize: 11, fontWeight: 600, anchor: 'start', offset: 10 },
    axis: { ...axisColors, labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' },
    legend: { labelColor: text, titleColor: text, labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', labelLimit: 240, titleLimit: 280 },
    header: { labelColor: text, titleColor: text, labelFontSize: 12 },
    view: { stroke: grid },
    // Marks without a colour encoding (reference lines, error bars, shading) use the foreground.
    rule: { color: muted },
    tick: { color: text },
    text: { color: muted },
    rect: { color: muted },
    range: { category: { scheme: 'tableau10' }, heatmap: { scheme: dark ? 'darkblue' : 'blues' } },
  };
}
