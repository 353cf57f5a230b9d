import { checkNumber, ConfigError } from '../config';
import type { Rng } from '../random';

/**
 * Ranges from which each experiment's agent parameters are drawn uniformly, so
 * a batch holds agents that learn fast and slow, greedy and exploratory.
 */
export type ParamRanges = Record<string, readonly [number, number]>;

/**
 * Two-step Q-learning agents (no perseveration: choices follow values alone),
 * decisive enough that their choices carry what they have learned.
 */
export const TWO_STEP_AGENTS: ParamRanges = {
  alpha: [0.3, 0.8],
  gamma: [0.7, 1],
  beta: [4, 12],
  kappa: [0, 0],
};

/** Grid-world Q-learning agents: far-sighted enough for the value of the goal to spread back to the start. */
export const GRID_AGENTS: ParamRanges = {
  alpha: [0.3, 0.9],
  gamma: [0.8, 0.95],
  beta: [3, 10],
  kappa: [0, 0],
};

/** The SR-TD learner whose variables a graph experiment records. */
export const GRAPH_LEARNER: ParamRanges = {
  alpha: [0.1, 0.1],
  gamma: [0.9, 0.9],
  beta: [5, 5],
};

export function sampleParams(ranges: ParamRanges, rng: Rng): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, range] of Object.entries(ranges)) {
    const [lo, hi] = checkRange(`ranges.${name}`, range);
    out[name] = lo === hi ? lo : lo + (hi - lo) * rng.uniform();
  }
  return out;
}

/**
 * A population's ranges with some replaced: each named parameter must be one the
 * population draws (and, for Q-learning agents, not kappa: they have no
 * perseveration, so a kappa would be ignored), each range [low, high] with low <= high.
 */
export function overrideRanges(field: string, defaults: ParamRanges, overrides: ParamRanges): ParamRanges {
  const out: Record<string, readonly [number, number]> = { ...defaults };
  const known = Object.keys(defaults).filter((k) => k !== 'kappa');
  for (const [name, range] of Object.entries(overrides)) {
    if (!known.includes(name)) throw new ConfigError(`${field}.${name}`, range, `one of the agents\u2019 parameters: ${known.join(', ')}`);
    out[name] = checkRange(`${field}.${name}`, range);
  }
  return out;
}

/** A range [low, high] of finite numbers with low <= high. */
function checkRange(field: string, [lo, hi]: readonly [number, number]): [number, number] {
  checkNumber(`${field}[0]`, lo);
  checkNumber(`${field}[1]`, hi);
  if (lo > hi) throw new ConfigError(field, [lo, hi], 'a range [low, high] with low <= high');
  return [lo, hi];
}
