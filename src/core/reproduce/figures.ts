import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderSvg, validateSpec, type ChartSpec } from '../plots';

/**
 * Writes a chart as `<name>.svg` (rendered headless) and `<name>.vl.json` (the
 * Vega-Lite spec, for notebooks and other viewers) under `dir`; returns the SVG's
 * path relative to `relativeTo`.
 */
export async function writeFigure(dir: string, name: string, spec: ChartSpec, relativeTo: string): Promise<string> {
  validateSpec(spec, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${name}.vl.json`), `${JSON.stringify(spec, null, 1)}\n`);
  await writeFile(join(dir, `${name}.svg`), await renderSvg(spec));
  const path = join(dir, `${name}.svg`);
  return path.startsWith(relativeTo) ? path.slice(relativeTo.length).replace(/^[/\\]/, '') : path;
}
