import { Rng } from '../../../src/core/random';

/**
 * Activations with known sparse structure: each row is a non-negative
 * combination of a few of `features` random unit directions in d_in dimensions.
 */
export function sparseFeatureData(options: { dIn: number; features: number; rows: number; meanActive: number; seed: number }) {
  const { dIn, features, rows, meanActive, seed } = options;
  const rng = Rng.fromSeed(seed);
  const directions = new Float64Array(features * dIn);
  for (let f = 0; f < features; f++) {
    const row = directions.subarray(f * dIn, (f + 1) * dIn);
    for (let j = 0; j < dIn; j++) row[j] = rng.normal();
    const norm = Math.hypot(...row);
    for (let j = 0; j < dIn; j++) row[j] /= norm;
  }
  const p = meanActive / features;
  const data = new Float32Array(rows * dIn);
  for (let r = 0; r < rows; r++) {
    const out = data.subarray(r * dIn, (r + 1) * dIn);
    for (let f = 0; f < features; f++) {
      if (!rng.bernoulli(p)) continue;
      const magnitude = 0.5 + rng.uniform();
      for (let j = 0; j < dIn; j++) out[j] += magnitude * directions[f * dIn + j];
    }
  }
  return { data, directions };
}

/** Fraction of true directions matched by some decoder row at cosine above `threshold`. */
export function recoveredFraction(directions: Float64Array, W_dec: Float32Array, dIn: number, threshold: number): number {
  const features = directions.length / dIn;
  const latents = W_dec.length / dIn;
  const norms = Array.from({ length: latents }, (_, i) => Math.hypot(...W_dec.subarray(i * dIn, (i + 1) * dIn)));
  let recovered = 0;
  for (let f = 0; f < features; f++) {
    let best = -1;
    for (let i = 0; i < latents; i++) {
      let dot = 0;
      for (let j = 0; j < dIn; j++) dot += directions[f * dIn + j] * W_dec[i * dIn + j];
      best = Math.max(best, dot / (norms[i] || 1));
    }
    if (best > threshold) recovered++;
  }
  return recovered / features;
}
