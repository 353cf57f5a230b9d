import type { TabularSpec, Transition } from '../envs/types';
import type { ChoiceLatents } from './types';

/**
 * Softmax over the first `out.length` logits, written into `out`. Logits of
 * -Infinity get probability 0; at least one must be finite.
 */
export function softmaxInto(logits: Float64Array, out: Float64Array): Float64Array {
  const n = out.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(logits[i] - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}

/** log softmax(logits[0..n))[index], computed without overflow. */
export function logSoftmaxAt(logits: Float64Array, n: number, index: number): number {
  if (n === 2) {
    // -log(1 + e^d), d the other logit minus this one: one exp instead of two (the likelihood's hot path).
    const d = logits[1 - index] - logits[index];
    return d > 0 ? -d - Math.log1p(Math.exp(-d)) : -Math.log1p(Math.exp(d));
  }
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[i] - max);
  return logits[index] - max - Math.log(sum);
}

/**
 * A learner whose policy is a softmax over logits it fills for a state: the
 * probabilities and the log-probability of an action follow from `fillLogits`
 * alone, with one logits buffer reused so the likelihood loop allocates nothing.
 */
export abstract class SoftmaxLearner {
  protected readonly logits: Float64Array;

  constructor(readonly spec: TabularSpec) {
    this.logits = new Float64Array(spec.nActions);
  }

  /** Writes the policy's logits in `state` into `this.logits`. */
  protected abstract fillLogits(state: number): void;

  probs(state: number, out = new Float64Array(this.spec.nActions)): Float64Array {
    this.fillLogits(state);
    return softmaxInto(this.logits, out);
  }

  logProb(state: number, action: number): number {
    this.fillLogits(state);
    return logSoftmaxAt(this.logits, this.spec.nActions, action);
  }

  /** What every learner reports of a step: the transition, and its policy there before learning from it. */
  protected choiceLatents(t: Transition): ChoiceLatents {
    return { state: t.state, action: t.action, reward: t.reward, nextState: t.nextState, probs: Array.from(this.probs(t.state)), logProb: this.logProb(t.state, t.action) };
  }
}
