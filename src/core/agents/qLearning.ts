import type { TabularSpec, Transition } from '../envs/types';
import { SoftmaxLearner } from './softmax';
import { checkTransition, type ChoiceLatents, type Learner, type LearnerModel, type ParamSpec, type Params } from './types';

export interface QLearningParams {
  /** Learning rate. */
  alpha: number;
  /** Discount of the next state's value; 0 makes the learner myopic. */
  gamma: number;
  /** Softmax inverse temperature. */
  beta: number;
  /** Perseveration: a bonus added to the logit of the action last taken in the same state. */
  kappa: number;
}

/** One step of a Q-learner. Values are those of the step's state. */
export interface QLatents extends ChoiceLatents {
  /** r + gamma * max_a' Q(s', a') - Q(s, a), with no future value at the end of an episode. */
  tdError: number;
  /** Q(s, ·) before the update. */
  qValues: number[];
  /** Q(s, ·) after the update. */
  qValuesAfter: number[];
  /** Q(s, a) of the action taken, before the update. */
  qChosen: number;
  /** Q(s, a) minus the mean of Q(s, ·) over the other actions, before the update (Q(s,a) - Q(s,other) with two actions). */
  qDiff: number;
  /** max_a' Q(s', a') as used in the TD target (0 at the end of an episode). */
  nextValue: number;
}

/**
 * Tabular Q-learning with a softmax policy. Q starts at 0 and persists across
 * episodes: a learner is one experiment. The policy in state s is
 * softmax(beta * Q(s, ·) + kappa * [a == the action last taken in s]): the
 * "previous action" is per state, so in the two-step task the first-stage bonus
 * goes to the previous first-stage choice (the usual stickiness of Daw et al.
 * 2011) and a second-stage bonus to the last choice made in that second-stage state.
 */
export class QLearner extends SoftmaxLearner implements Learner<QLatents> {
  private readonly q: Float64Array;
  private readonly lastAction: Int32Array;
  // Copied out of `params` so the likelihood loop reads plain fields.
  private readonly alpha: number;
  private readonly gamma: number;
  private readonly beta: number;
  private readonly kappa: number;

  constructor(
    spec: TabularSpec,
    readonly params: Readonly<QLearningParams>,
  ) {
    super(spec);
    this.alpha = params.alpha;
    this.gamma = params.gamma;
    this.beta = params.beta;
    this.kappa = params.kappa;
    this.q = new Float64Array(spec.nStates * spec.nActions);
    this.lastAction = new Int32Array(spec.nStates).fill(-1);
  }

  /** Q(s, ·) as a copy. */
  values(state: number): number[] {
    const n = this.spec.nActions;
    return Array.from(this.q.subarray(state * n, state * n + n));
  }

  learn(t: Transition): void {
    this.update(t, this.nextValue(t.nextState));
  }

  observe(t: Transition): QLatents {
    checkTransition(t, this.spec);
    const n = this.spec.nActions;
    const choice = this.choiceLatents(t);
    const qValues = this.values(t.state);
    const qChosen = qValues[t.action];
    let others = 0;
    for (let a = 0; a < n; a++) if (a !== t.action) others += qValues[a];
    const qDiff = n > 1 ? qChosen - others / (n - 1) : 0;
    const nextValue = this.nextValue(t.nextState);
    const tdError = this.update(t, nextValue);
    return { ...choice, tdError, qValues, qValuesAfter: this.values(t.state), qChosen, qDiff, nextValue };
  }

  private nextValue(nextState: number | null): number {
    if (nextState === null) return 0;
    const n = this.spec.nActions;
    let max = -Infinity;
    for (let a = nextState * n; a < nextState * n + n; a++) if (this.q[a] > max) max = this.q[a];
    return max;
  }

  private update(t: Transition, nextValue: number): number {
    const i = t.state * this.spec.nActions + t.action;
    const delta = t.reward + this.gamma * nextValue - this.q[i];
    this.q[i] += this.alpha * delta;
    this.lastAction[t.state] = t.action;
    return delta;
  }

  protected override fillLogits(state: number): void {
    const n = this.spec.nActions;
    const last = this.lastAction[state];
    for (let a = 0; a < n; a++) this.logits[a] = this.beta * this.q[state * n + a] + (a === last ? this.kappa : 0);
  }
}

const ALPHA: ParamSpec = { name: 'alpha', lower: 0, upper: 1, default: 0.5, description: 'learning rate' };
const GAMMA: ParamSpec = { name: 'gamma', lower: 0, upper: 1, default: 0.9, description: 'discount factor' };
const BETA: ParamSpec = { name: 'beta', lower: 0, upper: 20, default: 3, description: 'softmax inverse temperature' };
const KAPPA: ParamSpec = {
  name: 'kappa',
  lower: -5,
  upper: 5,
  default: 0,
  description: 'perseveration bonus for the action last taken in the state',
};

export interface QLearningVariant {
  /** Fix gamma to 0: values learn only from immediate rewards. */
  myopic?: boolean;
  /** Add the perseveration parameter kappa (otherwise kappa = 0). */
  perseveration?: boolean;
}

/** The Q-learning model family: alpha, gamma (unless myopic), beta, and kappa (with perseveration). */
export function qLearningModel(variant: QLearningVariant = {}): LearnerModel<QLatents> {
  const myopic = variant.myopic ?? false;
  const perseveration = variant.perseveration ?? false;
  const params = [ALPHA, ...(myopic ? [] : [GAMMA]), BETA, ...(perseveration ? [KAPPA] : [])];
  const name = `${myopic ? 'myopic-' : ''}q-learning${perseveration ? '-perseveration' : ''}`;
  const description =
    `${myopic ? 'myopic Q-learning (gamma = 0)' : 'Q-learning'} with a softmax policy` +
    (perseveration ? ' and perseveration' : '');
  return {
    name,
    description,
    params,
    create: (p: Params, spec: TabularSpec) =>
      new QLearner(spec, {
        alpha: p.alpha,
        gamma: myopic ? 0 : p.gamma,
        beta: p.beta,
        kappa: perseveration ? p.kappa : 0,
      }),
  };
}

export const Q_LEARNING = qLearningModel();
export const MYOPIC_Q_LEARNING = qLearningModel({ myopic: true });
export const Q_LEARNING_PERSEVERATION = qLearningModel({ perseveration: true });
