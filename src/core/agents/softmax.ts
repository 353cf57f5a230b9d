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
