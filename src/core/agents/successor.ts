import { ConfigError } from '../config';
import type { TabularSpec, Transition } from '../envs/types';
import { SoftmaxLearner } from './softmax';
import { checkTransition, type ChoiceLatents, type Learner, type LearnerModel, type Params } from './types';

export interface SuccessorParams {
  /** Learning rate. */
  alpha: number;
  /** Discount of future occupancy; below 1 so that the SR is finite. */
  gamma: number;
  /** Inverse temperature of the next-state prediction. */
  beta: number;
}

/** One step of an SR-TD learner watching a walk. */
export interface SuccessorLatents extends ChoiceLatents {
  /** The SR TD error vector onehot(s) + gamma * M(s', ·) - M(s, ·) (no M(s', ·) at the end of a walk). */
  tdErrors: number[];
  /** M(s, ·) before the update. */
  srRow: number[];
  /** M(s, ·) after the update. */
  srRowAfter: number[];
}

/**
 * The successor representation learned by TD over a sequence of states:
 * M(s, ·) += alpha * (onehot(s) + gamma * M(s', ·) - M(s, ·)). Its fixed point under
 * a walk with transition matrix P is (I - gamma P)^-1.
 *
 * M starts at the identity: before any experience a state predicts only itself,
 * which is the first term of (I - gamma P)^-1 = I + gamma P + gamma^2 P^2 + ...
 *
 * As a {@link Learner}, the "action" of a transition is a prediction of the next
 * state (so the spec has nActions = nStates) and `nextState` is the state that
 * actually came: the learner is scored on the prediction and learns from the walk.
 * The prediction is softmax(beta * M(s, j)) over j; with `excludeSelf` (the default,
 * for walks on graphs without self-loops such as the community graph) the current
 * state is left out.
 */
export class SuccessorLearner extends SoftmaxLearner implements Learner<SuccessorLatents> {
  private readonly m: Float64Array;
  private readonly delta: Float64Array;

  constructor(
    spec: TabularSpec,
    readonly params: Readonly<SuccessorParams>,
    readonly excludeSelf = true,
  ) {
    super(spec);
    if (spec.nActions !== spec.nStates) {
      throw new ConfigError('spec.nActions', spec.nActions, `equal to spec.nStates (${spec.nStates}): the choice is the next state`);
    }
    if (excludeSelf && spec.nStates < 2) {
      throw new ConfigError('spec.nStates', spec.nStates, 'at least 2 when the current state is excluded from predictions');
    }
    const n = spec.nStates;
    this.m = new Float64Array(n * n);
    for (let i = 0; i < n; i++) this.m[i * n + i] = 1;
    this.delta = new Float64Array(n);
  }

  /** M(s, ·) as a copy. */
  row(state: number): number[] {
    const n = this.spec.nStates;
    return Array.from(this.m.subarray(state * n, state * n + n));
  }

  /** The whole SR, row-major (M[s * nStates + j]), as a copy. */
  matrix(): Float64Array {
    return this.m.slice();
  }

  learn(t: Transition): void {
    const n = this.spec.nStates;
    const { alpha, gamma } = this.params;
    const s = t.state * n;
    const next = t.nextState === null ? -1 : t.nextState * n;
    // The error vector is kept whole for observe() to report.
    for (let j = 0; j < n; j++) {
      this.delta[j] = (j === t.state ? 1 : 0) + (next < 0 ? 0 : gamma * this.m[next + j]) - this.m[s + j];
    }
    for (let j = 0; j < n; j++) this.m[s + j] += alpha * this.delta[j];
  }

  observe(t: Transition): SuccessorLatents {
    checkTransition(t, this.spec);
    const choice = this.choiceLatents(t);
    const srRow = this.row(t.state);
    this.learn(t);
    return {
      ...choice,
      tdErrors: Array.from(this.delta),
      srRow,
      srRowAfter: this.row(t.state),
    };
  }

  protected override fillLogits(state: number): void {
    const n = this.spec.nStates;
    const { beta } = this.params;
    for (let j = 0; j < n; j++) this.logits[j] = beta * this.m[state * n + j];
    if (this.excludeSelf) this.logits[state] = -Infinity;
  }
}

export interface SuccessorVariant {
  /** Leave the current state out of next-state predictions (default true). */
  excludeSelf?: boolean;
}

export function successorModel(variant: SuccessorVariant = {}): LearnerModel<SuccessorLatents> {
  const excludeSelf = variant.excludeSelf ?? true;
  return {
    name: excludeSelf ? 'successor-representation' : 'successor-representation-self',
    description: 'successor representation learned by TD, predicting the next state by a softmax over its SR row',
    params: [
      { name: 'alpha', lower: 0, upper: 1, default: 0.1, description: 'learning rate' },
      { name: 'gamma', lower: 0, upper: 0.99, default: 0.9, description: 'discount of future occupancy' },
      { name: 'beta', lower: 0, upper: 50, default: 5, description: 'inverse temperature of the next-state prediction' },
    ],
    create: (p: Params, spec: TabularSpec) => new SuccessorLearner(spec, { alpha: p.alpha, gamma: p.gamma, beta: p.beta }, excludeSelf),
  };
}

export const SUCCESSOR_REPRESENTATION = successorModel();

/**
 * A walk s_0 .. s_T as transitions for an SR learner: step t goes from s_t to
 * s_t+1, and its action is `predictions[t]` (an observer's guess of s_t+1) or,
 * without predictions, s_t+1 itself. Rewards are 0.
 */
export function walkTransitions(states: readonly number[], predictions?: readonly number[]): Transition[] {
  if (predictions !== undefined && predictions.length !== states.length - 1) {
    throw new RangeError(`a walk of ${states.length} states needs ${states.length - 1} predictions, got ${predictions.length}`);
  }
  const out: Transition[] = [];
  for (let t = 0; t + 1 < states.length; t++) {
    out.push({ state: states[t], action: predictions?.[t] ?? states[t + 1], reward: 0, nextState: states[t + 1] });
  }
  return out;
}
