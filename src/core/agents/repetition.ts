import type { TabularSpec, Transition } from '../envs/types';
import { SoftmaxLearner } from './softmax';
import { checkTransition, type ChoiceLatents, type Learner, type LearnerModel, type Params } from './types';

export interface RepetitionLatents extends ChoiceLatents {
  /** The action last taken in this state before the step; null the first time the state is seen. */
  previousAction: number | null;
}

/**
 * The repetition model: no values, only a tendency to repeat.
 * P(a | s) ∝ exp(kappa * [a == the action last taken in s]); uniform in a state not yet visited.
 */
export class RepetitionLearner extends SoftmaxLearner implements Learner<RepetitionLatents> {
  private readonly lastAction: Int32Array;

  constructor(
    spec: TabularSpec,
    readonly kappa: number,
  ) {
    super(spec);
    this.lastAction = new Int32Array(spec.nStates).fill(-1);
  }

  learn(t: Transition): void {
    this.lastAction[t.state] = t.action;
  }

  observe(t: Transition): RepetitionLatents {
    checkTransition(t, this.spec);
    const previous = this.lastAction[t.state];
    const latents: RepetitionLatents = {
      ...this.choiceLatents(t),
      previousAction: previous < 0 ? null : previous,
    };
    this.learn(t);
    return latents;
  }

  protected override fillLogits(state: number): void {
    const last = this.lastAction[state];
    for (let a = 0; a < this.spec.nActions; a++) this.logits[a] = a === last ? this.kappa : 0;
  }
}

export const REPETITION: LearnerModel<RepetitionLatents> = {
  name: 'repetition',
  description: 'repeat the last choice made in the same state',
  params: [{ name: 'kappa', lower: -10, upper: 10, default: 1, description: 'stickiness: logit bonus of the previous action' }],
  create: (p: Params, spec: TabularSpec) => new RepetitionLearner(spec, p.kappa),
};
