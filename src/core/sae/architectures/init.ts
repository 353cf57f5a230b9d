import type { Rng } from '../../random';

/**
 * Decoder rows in random directions with the given norm, and the encoder their
 * transpose, as both Anthropic (April 2024 update) and Gao et al. initialise:
 * each latent starts out reading the direction it writes.
 */
export function tiedInit(rng: Rng, dIn: number, dSae: number, rowNorm: number): Record<string, Float32Array> {
  const W_dec = new Float32Array(dSae * dIn);
  const W_enc = new Float32Array(dIn * dSae);
  const row = new Float64Array(dIn);
  for (let i = 0; i < dSae; i++) {
    let norm = 0;
    for (let j = 0; j < dIn; j++) {
      row[j] = rng.normal();
      norm += row[j] * row[j];
    }
    const scale = rowNorm / Math.sqrt(norm);
    for (let j = 0; j < dIn; j++) {
      W_dec[i * dIn + j] = row[j] * scale;
      W_enc[j * dSae + i] = row[j] * scale;
    }
  }
  return { W_enc, b_enc: new Float32Array(dSae), W_dec, b_dec: new Float32Array(dIn) };
}
