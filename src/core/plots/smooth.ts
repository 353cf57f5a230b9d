/**
 * Gaussian smoothing of a curve, as the paper smooths its per-block correlation
 * curves (sigma 0.5 blocks). Each output is the Gaussian-weighted mean of all
 * inputs, weights exp(-d^2 / (2 sigma^2)) at distance d; the weights are
 * normalised per output, so at the ends, where half the kernel falls outside
 * the curve, the remaining weights are renormalised rather than padded.
 *
 * `positions` (default 0, 1, 2, ...) are the x values, so curves sampled at
 * uneven blocks are smoothed in block units. sigma = 0 returns a copy.
 */
export function gaussianSmooth(values: readonly number[], sigma: number, positions?: readonly number[]): number[] {
  if (!(sigma >= 0 && Number.isFinite(sigma))) throw new RangeError(`gaussianSmooth: sigma must be a finite number >= 0, got ${sigma}`);
  const x = positions ?? values.map((_, i) => i);
  if (x.length !== values.length) {
    throw new RangeError(`gaussianSmooth: ${values.length} values but ${x.length} positions`);
  }
  if (sigma === 0) return [...values];
  const scale = 1 / (2 * sigma * sigma);
  return values.map((_, i) => {
    let weighted = 0;
    let total = 0;
    for (let j = 0; j < values.length; j++) {
      const w = Math.exp(-((x[i] - x[j]) ** 2) * scale);
      weighted += w * values[j];
      total += w;
    }
    return weighted / total;
  });
}
