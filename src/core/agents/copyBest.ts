import type { TabularSpec, Transition } from '../envs/types';
import { SoftmaxLearner } from './softmax';
import { checkTransition, type ChoiceLatents, type Learner, type LearnerModel, type ParamSpec, type Params } from './types';

/** One step of the copy-best strategy. */
export interface CopyBestLatents extends ChoiceLatents {
  /** The action taken in this state in the best earlier episode that visited it; null before any rewarded one. */
  bestAction: number | null;
  /** That episode's return; null before any rewarded episode. */
  bestReturn: number | null;
}

/**
 * "Copy the best earlier episode", the alternative to TD learning the paper's
 * reviewers raised: no values, only a memory of the best episode so far. An
 * episode is the run of transitions up to one whose nextState is null; its
 * return is the sum of its rewards. For each state s, best(s) is the action taken
 * in s in the earlier episode with the highest return among those that visited s
 * and were rewarded (return > 0); ties go to the most recent episode, and within
 * an episode that visited s more than once, to the last action taken there. The
 * policy is
 *
 *   P(a | s) ∝ exp(beta [a == best(s)] + kappa [a == the action last taken in s]),
 *
 * so before any rewarded episode visited s only perseveration (kappa, 0 without
 * the variant) acts, and with kappa = 0 the choice is uniform. In the two-step
 * task this copies, at the first stage, the first choice of the best earlier
 * episode, and on a planet, the alien chosen in the best earlier episode that
 * reached that planet. An episode counts once its last transition is learned from.
 */
export class CopyBestLearner extends SoftmaxLearner implements Learner<CopyBestLatents> {
  private readonly bestAction: Int32Array;
  private readonly bestReturn: Float64Array;
  private readonly lastAction: Int32Array;
  /** The current episode's (state, action) pairs, in order, and its return so far. */
  private readonly visited: number[] = [];
  private episodeReturn = 0;

  constructor(
    spec: TabularSpec,
    readonly beta: number,
    readonly kappa: number,
  ) {
    super(spec);
    this.bestAction = new Int32Array(spec.nStates).fill(-1);
    this.bestReturn = new Float64Array(spec.nStates);
    this.lastAction = new Int32Array(spec.nStates).fill(-1);
  }

  learn(t: Transition): void {
    this.visited.push(t.state, t.action);
    this.episodeReturn += t.reward;
    this.lastAction[t.state] = t.action;
    if (t.nextState !== null) return;
    const r = this.episodeReturn;
    // In visit order, so a state visited twice keeps its last action; >= lets the newer episode win a tie.
    if (r > 0) {
      for (let k = 0; k < this.visited.length; k += 2) {
        const s = this.visited[k];
        if (r >= this.bestReturn[s]) {
          this.bestReturn[s] = r;
          this.bestAction[s] = this.visited[k + 1];
        }
      }
    }
    this.visited.length = 0;
    this.episodeReturn = 0;
  }

  observe(t: Transition): CopyBestLatents {
    checkTransition(t, this.spec);
    const best = this.bestAction[t.state];
    const latents: CopyBestLatents = {
      ...this.choiceLatents(t),
      bestAction: best < 0 ? null : best,
      bestReturn: best < 0 ? null : this.bestReturn[t.state],
    };
    this.learn(t);
    return latents;
  }

  protected override fillLogits(state: number): void {
    const best = this.bestAction[state];
    const last = this.lastAction[state];
    for (let a = 0; a < this.spec.nActions; a++) this.logits[a] = (a === best ? this.beta : 0) + (a === last ? this.kappa : 0);
  }
}

const BETA: ParamSpec = { name: 'beta', lower: -20, upper: 20, default: 2, description: 'logit bonus of the best earlier episode\u2019s action' };
const KAPPA: ParamSpec = { name: 'kappa', lower: -5, upper: 5, default: 0, description: 'perseveration bonus for the action last taken in the state' };

export interface CopyBestVariant {
  /** Add the perseveration parameter kappa (otherwise kappa = 0). */
  perseveration?: boolean;
}

/** The copy-best model family: beta, and kappa with perseveration. */
export function copyBestModel(variant: CopyBestVariant = {}): LearnerModel<CopyBestLatents> {
  const perseveration = variant.perseveration ?? false;
  return {
    name: `copy-best${perseveration ? '-perseveration' : ''}`,
    description: `copy the action of the best earlier episode in each state${perseveration ? ', with perseveration' : ''}`,
    params: perseveration ? [BETA, KAPPA] : [BETA],
    create: (p: Params, spec: TabularSpec) => new CopyBestLearner(spec, p.beta, perseveration ? p.kappa : 0),
  };
}

export const COPY_BEST = copyBestModel();
export const COPY_BEST_PERSEVERATION = copyBestModel({ perseveration: true });
