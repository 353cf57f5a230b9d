import { nelderMead } from 'fmin/index.js';
import { checkInteger, checkKnownKeys, checkNumber } from '../config';
import { Rng } from '../random';
import { checkFitData, countObservations, latentsOf, negLogLikelihood, type FitData } from './likelihood';
import type { ChoiceLatents, LearnerModel, ParamSpec } from './types';

export interface FitOptions {
  /** Optimiser starts: the parameters' defaults, then points drawn within the bounds. */
  restarts: number;
  /** Seeds the random starting points. */
  seed: number;
  /** Nelder-Mead iterations per run; 0 means 200 per free parameter. */
  maxIterations: number;
  /** A run has converged when the NLL changes by less than this. */
  tolerance: number;
}

export const FIT_DEFAULTS: FitOptions = { restarts: 5, seed: 0, maxIterations: 0, tolerance: 1e-6 };

export function fitOptions(partial: Partial<FitOptions> = {}): FitOptions {
  checkKnownKeys('fit', partial, Object.keys(FIT_DEFAULTS));
  const o = { ...FIT_DEFAULTS, ...partial };
  checkInteger('fit.restarts', o.restarts, 1);
  checkInteger('fit.seed', o.seed);
  checkInteger('fit.maxIterations', o.maxIterations, 0);
  checkNumber('fit.tolerance', o.tolerance, 0);
  return o;
}

/** A maximum-likelihood fit, and the latent variables of every step under the fitted parameters. */
export interface FitResult<L extends ChoiceLatents = ChoiceLatents> {
  model: string;
  params: Record<string, number>;
  /** Number of free parameters. */
  k: number;
  nll: number;
  /** 2k + 2 NLL. */
  aic: number;
  /** k ln(n) + 2 NLL, n the number of scored choices. */
  bic: number;
  nObservations: number;
  /** Likelihood evaluations spent, over all restarts. */
  evaluations: number;
  /** latents[e][i]: step i of experiment e, aligned with its transitions. */
  latents: L[][];
}

export function informationCriteria(nll: number, k: number, n: number): { aic: number; bic: number } {
  return { aic: 2 * k + 2 * nll, bic: k * Math.log(n) + 2 * nll };
}

/**
 * Fits one parameter set shared by all experiments (as the paper fits its models
 * to all experiments' choices), by Nelder-Mead from several starts in an
 * unbounded space (see {@link toUnbounded}).
 */
export function fitModel<L extends ChoiceLatents>(model: LearnerModel<L>, data: FitData, options: Partial<FitOptions> = {}): FitResult<L> {
  checkFitData(data);
  const o = fitOptions(options);
  return fitChecked(model, data, o, Rng.fromSeed(o.seed));
}

/** Fits each experiment on its own; the starting points of each come from a stream forked from the seed. */
export function fitModelPerExperiment<L extends ChoiceLatents>(
  model: LearnerModel<L>,
  data: FitData,
  options: Partial<FitOptions> = {},
): FitResult<L>[] {
  checkFitData(data);
  const o = fitOptions(options);
  const master = Rng.fromSeed(o.seed);
  return data.experiments.map((e) => fitChecked(model, { spec: data.spec, experiments: [e] }, o, master.fork()));
}

function fitChecked<L extends ChoiceLatents>(model: LearnerModel<L>, data: FitData, o: FitOptions, rng: Rng): FitResult<L> {
  const n = countObservations(data);
  if (n === 0) throw new RangeError('nothing to fit: no scored choices');
  const specs = model.params;
  let evaluations = 0;
  const objective = (x: readonly number[]): number => {
    evaluations++;
    const nll = negLogLikelihood(model, fromVector(specs, x), data);
    return Number.isFinite(nll) ? nll : Infinity;
  };
  let best = { x: specs.map((p) => toUnbounded(p, p.default)), fx: Infinity };
  if (specs.length === 0) {
    best.fx = objective([]);
  } else {
    for (let r = 0; r < o.restarts; r++) {
      const start = r === 0 ? best.x : specs.map((p) => randomStart(p, rng));
      const found = minimise(objective, start, o);
      if (found.fx < best.fx) best = found;
    }
  }
  const params = fromVector(specs, best.x);
  return {
    model: model.name,
    params,
    k: specs.length,
    nll: best.fx,
    ...informationCriteria(best.fx, specs.length, n),
    nObservations: n,
    evaluations,
    latents: latentsOf(model, params, data),
  };
}

/** Initial simplex edge in the unbounded space (about a quarter of a bounded range around its middle). */
const SIMPLEX_STEP = 1;
/** Nelder-Mead is restarted from its own result until it stops improving, at most this often. */
const MAX_ROUNDS = 8;

/**
 * Nelder-Mead (fmin) in coordinates centred on the current point, so that the
 * initial simplex has the same size along every axis. fmin's shrink step is
 * broken (it throws), so it is asked to stop where it would shrink (sigma = 1),
 * and the search restarts from the best vertex with a fresh simplex.
 */
function minimise(f: (x: readonly number[]) => number, x0: readonly number[], o: FitOptions): { x: number[]; fx: number } {
  const n = x0.length;
  let x = [...x0];
  let fx = f(x);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const origin = x;
    const shifted = (z: readonly number[]) => origin.map((v, i) => v + z[i]);
    const run = nelderMead((z) => f(shifted(z)), new Array<number>(n).fill(0), {
      zeroDelta: SIMPLEX_STEP,
      sigma: 1,
      maxIterations: o.maxIterations || 200 * n,
      minErrorDelta: o.tolerance,
    });
    if (!(run.fx < fx)) break;
    const improvement = fx - run.fx;
    x = shifted(run.x);
    fx = run.fx;
    if (improvement < o.tolerance) break;
  }
  return { x, fx };
}

function randomStart(p: ParamSpec, rng: Rng): number {
  if (Number.isFinite(p.lower) && Number.isFinite(p.upper)) {
    return toUnbounded(p, p.lower + (p.upper - p.lower) * (0.05 + 0.9 * rng.uniform()));
  }
  return toUnbounded(p, p.default) + rng.normal();
}

/** Keeps logit away from infinity when a value sits on a bound. */
const EDGE = 1e-12;

/**
 * The optimiser's coordinate for a bounded value: logit of the position within
 * [lower, upper]; log of the distance from a single finite bound; the value
 * itself when unbounded.
 */
export function toUnbounded(p: ParamSpec, value: number): number {
  const lo = Number.isFinite(p.lower);
  const hi = Number.isFinite(p.upper);
  if (lo && hi) {
    const u = Math.min(1 - EDGE, Math.max(EDGE, (value - p.lower) / (p.upper - p.lower)));
    return Math.log(u / (1 - u));
  }
  if (lo) return Math.log(Math.max(EDGE, value - p.lower));
  if (hi) return Math.log(Math.max(EDGE, p.upper - value));
  return value;
}

/** The inverse of {@link toUnbounded}: any real maps inside the bounds. */
export function fromUnbounded(p: ParamSpec, x: number): number {
  const lo = Number.isFinite(p.lower);
  const hi = Number.isFinite(p.upper);
  if (lo && hi) return p.lower + (p.upper - p.lower) / (1 + Math.exp(-x));
  if (lo) return p.lower + Math.exp(x);
  if (hi) return p.upper - Math.exp(x);
  return x;
}

function fromVector(specs: readonly ParamSpec[], x: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  specs.forEach((p, i) => (out[p.name] = fromUnbounded(p, x[i])));
  return out;
}
