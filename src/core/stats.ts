/** Summary statistics shared by simulations and analyses. */

/** A mean with its 95% confidence interval (Student's t) over n independent values. */
export interface Estimate {
  mean: number;
  ci95: [number, number];
  n: number;
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

/** Sample standard deviation (n - 1 in the denominator). */
export function sampleSd(values: ArrayLike<number>): number {
  const m = mean(values);
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i] - m) ** 2;
  return Math.sqrt(ss / (values.length - 1));
}

/** The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9 after one Newton step). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normal quantile: p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  return x;
}

/**
 * Student's t quantile by the Cornish-Fisher expansion around the normal
 * quantile (Abramowitz & Stegun 26.7.5); within 0.2% of the exact value for
 * df >= 3 at the 97.5% point.
 */
export function tQuantile(p: number, df: number): number {
  if (!(df >= 1)) throw new RangeError(`t quantile: df must be >= 1, got ${df}`);
  const z = normalQuantile(p);
  const z3 = z ** 3;
  const z5 = z ** 5;
  const z7 = z ** 7;
  return (
    z +
    (z3 + z) / (4 * df) +
    (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2) +
    (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ** 3) +
    (79 * z ** 9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / (92160 * df ** 4)
  );
}

export function estimate(values: ArrayLike<number>): Estimate {
  const n = values.length;
  const m = mean(values);
  if (n < 2) return { mean: m, ci95: [m, m], n };
  const half = tQuantile(0.975, n - 1) * (sampleSd(values) / Math.sqrt(n));
  return { mean: m, ci95: [m - half, m + half], n };
}

/** The mean of a - b paired element by element (e.g. one condition minus another, per experiment), with its 95% interval. */
export function pairedDifference(a: readonly number[], b: readonly number[]): Estimate {
  if (a.length !== b.length) throw new RangeError(`pairedDifference: lengths differ (${a.length} vs ${b.length})`);
  return estimate(a.map((x, i) => x - b[i]));
}

/** Per-column estimates of a rows x columns table (e.g. experiments x episodes). */
export function columnEstimates(rows: readonly (readonly number[])[]): Estimate[] {
  const width = rows.length === 0 ? 0 : rows[0].length;
  return Array.from({ length: width }, (_, j) => estimate(rows.map((r) => r[j])));
}

/** Pearson correlation of two equally long series. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`pearson: lengths differ (${x.length} vs ${y.length})`);
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** "0.512 [0.48, 0.54]" */
export function formatEstimate(e: Estimate, digits = 3): string {
  return `${e.mean.toFixed(digits)} [${e.ci95[0].toFixed(digits)}, ${e.ci95[1].toFixed(digits)}]`;
}

/** The mean of each column of rows of width d. */
export function columnMeans(x: Float32Array, d: number): Float64Array {
  const n = x.length / d;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  return mean;
}

/** The covariance of rows of width d about a center (divided by the row count), [d, d] row-major. */
export function rowCovariance(x: Float32Array, d: number, center: ArrayLike<number>): Float64Array {
  const n = x.length / d;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j] - center[j];
    for (let j = 0; j < d; j++) for (let k = 0; k <= j; k++) cov[j * d + k] += row[j] * row[k];
  }
  for (let j = 0; j < d; j++) {
    for (let k = 0; k <= j; k++) {
      cov[j * d + k] /= n;
      cov[k * d + j] = cov[j * d + k];
    }
  }
  return cov;
}
