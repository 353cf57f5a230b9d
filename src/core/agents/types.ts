import { checkKnownKeys, checkNumber, ConfigError } from '../config';
import type { TabularSpec, Transition } from '../envs/types';

/** One free parameter of a learner: its bounds (inclusive) and the value used when none is given. */
export interface ParamSpec {
  name: string;
  lower: number;
  upper: number;
  default: number;
  description: string;
}

/** A learner's parameters by name. */
export type Params = Readonly<Record<string, number>>;

/**
 * What every learner reports about one step: the transition, the policy it held
 * in the step's state before learning from it, and the log-probability of the
 * action that was taken.
 */
export interface ChoiceLatents {
  state: number;
  action: number;
  reward: number;
  nextState: number | null;
  probs: number[];
  logProb: number;
}

/**
 * A learner in a tabular task. The same object serves simulation (choose with
 * {@link probs} and an Rng, then {@link learn}) and likelihood (sum
 * {@link logProb} of the observed actions, learning after each).
 */
export interface Learner<L extends ChoiceLatents = ChoiceLatents> {
  readonly spec: TabularSpec;
  /** The choice probabilities over actions in a state; written into `out` when given. */
  probs(state: number, out?: Float64Array): Float64Array;
  /** log P(action | state) under the current policy; allocates nothing. */
  logProb(state: number, action: number): number;
  /** Learns from one transition; allocates nothing. */
  learn(t: Transition): void;
  /** Reports the step's latent variables (policy and values before, errors, values after), then learns. */
  observe(t: Transition): L;
}

/** A family of learners: named, bounded parameters and a constructor. */
export interface LearnerModel<L extends ChoiceLatents = ChoiceLatents> {
  readonly name: string;
  readonly description: string;
  readonly params: readonly ParamSpec[];
  /** Builds a learner; `params` must be complete and within bounds (see {@link resolveParams}). */
  create(params: Params, spec: TabularSpec): Learner<L>;
}

/** Fills in defaults and checks names and bounds: the boundary for user-given parameters. */
export function resolveParams(model: LearnerModel<ChoiceLatents>, given: Partial<Params> = {}): Record<string, number> {
  checkKnownKeys(model.name, given, model.params.map((p) => p.name));
  const out: Record<string, number> = {};
  for (const p of model.params) {
    out[p.name] = checkNumber(`${model.name}.${p.name}`, given[p.name] ?? p.default, p.lower, p.upper);
  }
  return out;
}

/** A learner of the model with the given parameters (defaults for the rest), checked. */
export function createLearner<L extends ChoiceLatents>(
  model: LearnerModel<L>,
  spec: TabularSpec,
  params: Partial<Params> = {},
): Learner<L> {
  checkSpec(spec);
  return model.create(resolveParams(model, params), spec);
}

export function checkSpec(spec: TabularSpec): void {
  if (!Number.isInteger(spec.nStates) || spec.nStates < 1) {
    throw new ConfigError('spec.nStates', spec.nStates, 'an integer >= 1');
  }
  if (!Number.isInteger(spec.nActions) || spec.nActions < 1) {
    throw new ConfigError('spec.nActions', spec.nActions, 'an integer >= 1');
  }
}

/** Throws unless the transition's state, action and next state are valid indices of the spec. */
export function checkTransition(t: Transition, spec: TabularSpec): void {
  const okState = (s: number) => Number.isInteger(s) && s >= 0 && s < spec.nStates;
  if (!okState(t.state) || !(t.nextState === null || okState(t.nextState))) {
    throw new RangeError(`transition states must be integers in [0, ${spec.nStates}), got ${t.state} -> ${t.nextState}`);
  }
  if (!Number.isInteger(t.action) || t.action < 0 || t.action >= spec.nActions) {
    throw new RangeError(`transition action must be an integer in [0, ${spec.nActions}), got ${t.action}`);
  }
  if (!Number.isFinite(t.reward)) throw new RangeError(`transition reward must be finite, got ${t.reward}`);
}
