import type { TabularSpec, Transition } from '../envs/types';
import { checkSpec, checkTransition, type ChoiceLatents, type LearnerModel, type Params } from './types';

/**
 * One experiment: the transitions a learner sees, in order, starting from scratch.
 * `scored[i]` says whether transition i's action counts in the likelihood: false
 * for choices the learner only learns from (e.g. the random-policy episodes that
 * open an experiment). All count when `scored` is absent.
 */
export interface Experiment {
  transitions: readonly Transition[];
  scored?: readonly boolean[];
}

/** Choices to fit: several experiments of one task. */
export interface FitData {
  spec: TabularSpec;
  experiments: readonly Experiment[];
}

/** Checks every index and length once, so the likelihood loop can trust the data. */
export function checkFitData(data: FitData): void {
  checkSpec(data.spec);
  data.experiments.forEach((e, i) => {
    if (e.scored !== undefined && e.scored.length !== e.transitions.length) {
      throw new RangeError(`experiment ${i}: ${e.scored.length} scored flags for ${e.transitions.length} transitions`);
    }
    for (const t of e.transitions) checkTransition(t, data.spec);
  });
}

/** The number of scored choices. */
export function countObservations(data: FitData): number {
  let n = 0;
  for (const e of data.experiments) {
    if (e.scored === undefined) n += e.transitions.length;
    else for (const s of e.scored) if (s) n++;
  }
  return n;
}

/**
 * -sum log P(action) over the scored choices of every experiment, each
 * experiment played by a fresh learner with the same parameters. Assumes checked
 * data and complete parameters (the fitting loop calls it many times).
 */
export function negLogLikelihood(model: LearnerModel<ChoiceLatents>, params: Params, data: FitData): number {
  let nll = 0;
  for (const e of data.experiments) {
    const learner = model.create(params, data.spec);
    const { transitions, scored } = e;
    for (let i = 0; i < transitions.length; i++) {
      const t = transitions[i];
      if (scored === undefined || scored[i]) nll -= learner.logProb(t.state, t.action);
      learner.learn(t);
    }
  }
  return nll;
}

/** The per-step latent variables of every experiment under the given parameters, aligned with its transitions. */
export function latentsOf<L extends ChoiceLatents>(model: LearnerModel<L>, params: Params, data: FitData): L[][] {
  return data.experiments.map((e) => {
    const learner = model.create(params, data.spec);
    return e.transitions.map((t) => learner.observe(t));
  });
}
