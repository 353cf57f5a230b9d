import type { Rng } from '../random';

/** The model's distribution over the allowed answers at one decision or prediction point. */
export interface AnswerDistribution {
  /** log P(answer) renormalised over the allowed answers' first tokens, in allowed order. */
  logProbs: number[];
  /** log P(first token) under the full next-token distribution, in allowed order. */
  vocabLogProbs: number[];
}

/**
 * Restricts next-token logits to the allowed answers' first tokens (the paper's
 * protocol: the model chooses by its next-token distribution over the labels).
 */
export function answerDistribution(logits: Float32Array, candidates: readonly number[]): AnswerDistribution {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  const vocabLogProbs = candidates.map((c) => logits[c] - logZ);
  const m = Math.max(...vocabLogProbs);
  const logZa = m + Math.log(vocabLogProbs.reduce((s, l) => s + Math.exp(l - m), 0));
  return { logProbs: vocabLogProbs.map((l) => l - logZa), vocabLogProbs };
}

/** How the model's answer is read from its distribution. */
export type AnswerPolicy = { kind: 'argmax' } | { kind: 'sample'; temperature: number };

/**
 * How a model chooses unless told otherwise: a draw from its distribution over the
 * labels at temperature 1, as text generation samples. A model trained to predict
 * agents then acts as the agent it predicts. Its argmax instead turns any lean
 * towards repeating into always repeating: it reads its own unwavering choices as a
 * perseverative agent's, and its rewards stop mattering.
 */
export const DEFAULT_PLAY_POLICY: AnswerPolicy = { kind: 'sample', temperature: 1 };

/** The policy in words, for reports. */
export function policyName(policy: AnswerPolicy): string {
  return policy.kind === 'argmax' ? 'argmax' : `sampled at temperature ${policy.temperature}`;
}

/** The index of the chosen answer: the most probable one (first on ties), or a draw at a temperature. */
export function chooseAnswer(dist: AnswerDistribution, policy: AnswerPolicy, rng: Rng): number {
  const lp = dist.logProbs;
  if (policy.kind === 'argmax') return lp.indexOf(Math.max(...lp));
  const scaled = lp.map((l) => l / policy.temperature);
  const m = Math.max(...scaled);
  return rng.categorical(scaled.map((l) => Math.exp(l - m)));
}
