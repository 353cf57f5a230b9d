import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import schema from 'vega-lite/build/vega-lite-schema.json';
import type { ChartSpec } from './common';

/** One way a spec breaks the Vega-Lite schema: where (a JSON pointer) and what. */
export interface SchemaError {
  path: string;
  message: string;
}

let validator: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (validator === undefined) {
    // The schema is Vega-Lite's own and trusted, so it is not itself validated, and
    // code optimisation is off: both make compiling it several times faster.
    const ajv = new Ajv({
      strict: false,
      validateSchema: false,
      inlineRefs: false,
      code: { optimize: false },
      formats: { uri: true, 'uri-reference': true, 'color-hex': /^#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i },
    });
    validator = ajv.compile(schema);
  }
  return validator;
}

/**
 * The spec's violations of the Vega-Lite schema, most specific first; empty when it
 * is valid. A schema of unions reports one failure per branch, so errors are ranked
 * by depth, and an enum or constant mismatch lists every value its branches allow.
 */
export function schemaErrors(spec: unknown): SchemaError[] {
  const validate = schemaValidator();
  if (validate(spec)) return [];
  const errors = validate.errors ?? [];
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) byPath.set(e.instancePath, [...(byPath.get(e.instancePath) ?? []), e]);
  const depth = (path: string) => (path === '' ? 0 : path.split('/').length);
  return [...byPath.entries()]
    .sort(([a], [b]) => depth(b) - depth(a))
    .map(([path, group]) => ({ path: path === '' ? '/' : path, message: describe(group) }));
}

function describe(group: ErrorObject[]): string {
  const allowed = group.flatMap((e) => {
    if (e.keyword === 'const') return [e.params.allowedValue as unknown];
    if (e.keyword === 'enum') return e.params.allowedValues as unknown[];
    return [];
  });
  const parts = allowed.length > 0 ? [`must be one of ${[...new Set(allowed.map((v) => JSON.stringify(v)))].join(', ')}`] : [];
  for (const e of group) {
    if (e.keyword !== 'const' && e.keyword !== 'enum') parts.push(e.message ?? e.keyword);
  }
  return [...new Set(parts)].join('; ');
}

/** Throws unless the spec is valid Vega-Lite, naming the chart (by default its title) and the most specific error. */
export function validateSpec(spec: ChartSpec, chart: string = titleOf(spec)): void {
  const errors = schemaErrors(spec);
  if (errors.length > 0) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    throw new Error(`chart '${chart}' is not valid Vega-Lite: ${errors[0].path} ${errors[0].message}${more}`);
  }
}

function titleOf(spec: ChartSpec): string {
  const title = spec.title;
  if (typeof title === 'string') return title;
  if (title !== undefined && typeof title === 'object' && 'text' in title) return String(title.text);
  return 'untitled';
}

/** A spec compiled to Vega; Vega-Lite's warnings (e.g. a dropped channel) go to `onWarning`. */
export function compileSpec(spec: ChartSpec, onWarning: (message: string) => void = () => {}): vega.Spec {
  return compile(spec, { logger: reportingLogger(onWarning) }).spec;
}

export interface RenderOptions {
  /** The background of the standalone file, which has no host to show through. Default white. */
  background?: string;
  /** Receives Vega-Lite's and Vega's warnings; they are dropped without it. */
  onWarning?: (message: string) => void;
}

/** Renders a spec to an SVG document headless (no DOM, no canvas); throws on Vega errors. */
export async function renderSvg(spec: ChartSpec, options: RenderOptions = {}): Promise<string> {
  const onWarning = options.onWarning ?? (() => {});
  const view = new vega.View(vega.parse(compileSpec(spec, onWarning)), { renderer: 'none', logger: reportingLogger(onWarning) });
  view.background(options.background ?? 'white');
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function reportingLogger(onWarning: (message: string) => void): vega.LoggerInterface {
  return vega.logger(vega.Warn, undefined, (method, _level, input) => {
    const message = Array.from(input, String).join(' ');
    if (method === 'error') throw new Error(message);
    onWarning(message);
  });
}
