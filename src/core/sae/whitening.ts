/**
 * Whitening the activations an SAE is trained on, and folding it back into the
 * SAE's weights. A residual stream's variance is far from even (in the default
 * model one direction holds about 40% of it and the quietest hold a ten-thousandth
 * of the average), and an SAE's loss weighs each direction by its variance: trained
 * on the raw rows it spends its latents on the loud directions and lets the quiet
 * ones go. Trained on z = W (x - mean), with W = C^-1/2 (ZCA), every direction
 * counts alike; the map is linear, so the trained SAE is exactly an SAE on x with
 * other weights, saved in the ordinary SAELens layout.
 */
import { columnMeans, rowCovariance } from '../stats';

/** A symmetric matrix's eigenvalues and eigenvectors (column k of `vectors`, row-major [d, d], belongs to `values[k]`). */
export interface SymmetricEigen {
  values: Float64Array;
  vectors: Float64Array;
}

/**
 * Eigendecomposition of a symmetric matrix by cyclic Jacobi rotations: slow in
 * theory (O(d^3) per sweep) but exact to rounding, with no dependency, and at
 * d_model in the hundreds a few sweeps take well under a second.
 */
export function symmetricEigen(matrix: Float64Array, d: number): SymmetricEigen {
  if (matrix.length !== d * d) throw new RangeError(`symmetricEigen: ${matrix.length} values are not a ${d} x ${d} matrix`);
  const a = Float64Array.from(matrix);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let scale = 0;
  for (let i = 0; i < d * d; i++) scale += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q] * a[p * d + q];
    if (off <= 1e-30 * scale) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (apq === 0) continue;
        // The rotation that zeroes a[p][q] (Numerical Recipes' stable form).
        const theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const [akp, akq] = [a[k * d + p], a[k * d + q]];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const [apk, aqk] = [a[p * d + k], a[q * d + k]];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const [vkp, vkq] = [v[k * d + p], v[k * d + q]];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: d }, (_, i) => a[i * d + i]), vectors: v };
}

/** z = matrix (x - mean), and back: x = inverse z + mean. Both matrices symmetric, row-major [d, d]. */
export interface Whitening {
  mean: Float64Array;
  matrix: Float64Array;
  inverse: Float64Array;
}

/**
 * No direction is scaled up by more than this factor relative to the loudest: a
 * direction along which the rows do not vary at all (a constant dimension) would
 * otherwise be blown up from rounding noise.
 */
const MAX_CONDITION = 1e6;

/** The ZCA whitening of some rows: mean and covariance from the rows, W = C^-1/2 (eigenvalues floored at max / 1e6). */
export function fitWhitening(rows: Float32Array, d: number): Whitening {
  const n = rows.length / d;
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`whitening needs at least 2 rows of ${d}, got ${rows.length} values`);
  const mean = columnMeans(rows, d);
  // The unbiased covariance.
  const cov = rowCovariance(rows, d, mean).map((c) => (c * n) / (n - 1));
  const { values, vectors } = symmetricEigen(cov, d);
  const floor = Math.max(...values) / MAX_CONDITION;
  if (!(floor > 0)) throw new RangeError('whitening: the rows do not vary at all');
  const power = (e: number) => {
    const m = new Float64Array(d * d);
    const f = Array.from(values, (l) => Math.max(l, floor) ** e);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        let sum = 0;
        for (let k = 0; k < d; k++) sum += vectors[i * d + k] * f[k] * vectors[j * d + k];
        m[i * d + j] = sum;
        m[j * d + i] = sum;
      }
    }
    return m;
  };
  return { mean, matrix: power(-0.5), inverse: power(0.5) };
}

/** Writes scale * W (x - mean) for every row of x into `out` (which may be x). */
export function whiten(w: Whitening, x: Float32Array, d: number, scale: number, out: Float32Array = new Float32Array(x.length)): Float32Array {
  const centred = new Float64Array(d);
  for (let r = 0; r < x.length / d; r++) {
    for (let j = 0; j < d; j++) centred[j] = x[r * d + j] - w.mean[j];
    for (let i = 0; i < d; i++) {
      let sum = 0;
      for (let j = 0; j < d; j++) sum += w.matrix[i * d + j] * centred[j];
      out[r * d + i] = scale * sum;
    }
  }
  return out;
}

/**
 * The weights of an SAE trained on z = s W (x - mean) as an SAE on x. With
 * b the trained b_dec: the encoder sees (z - b) W_enc = (x - b') (s W W_enc) where
 * b' = mean + W^-1 b / s, and the decoder's z_hat = f W_dec + b maps back to
 * x_hat = f (W_dec W^-1 / s) + b'. When the encoder does not subtract b_dec, its
 * offset moves into b_enc instead: z W_enc = x (s W W_enc) - s (W mean) W_enc.
 */
export function foldWhitening(
  params: Record<string, Float32Array>,
  w: Whitening,
  d: number,
  dSae: number,
  scale: number,
  applyBDecToInput: boolean,
): Record<string, Float32Array> {
  const { W_enc, W_dec, b_dec, b_enc } = params;
  const wEnc = new Float32Array(d * dSae);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < dSae; k++) {
      let sum = 0;
      for (let j = 0; j < d; j++) sum += w.matrix[i * d + j] * W_enc[j * dSae + k];
      wEnc[i * dSae + k] = scale * sum;
    }
  }
  const wDec = new Float32Array(dSae * d);
  for (let k = 0; k < dSae; k++) {
    for (let i = 0; i < d; i++) {
      let sum = 0;
      for (let j = 0; j < d; j++) sum += W_dec[k * d + j] * w.inverse[j * d + i];
      wDec[k * d + i] = sum / scale;
    }
  }
  const bDec = Float32Array.from({ length: d }, (_, i) => {
    let sum = 0;
    for (let j = 0; j < d; j++) sum += w.inverse[i * d + j] * b_dec[j];
    return w.mean[i] + sum / scale;
  });
  const out: Record<string, Float32Array> = { ...params, W_enc: wEnc, W_dec: wDec, b_dec: bDec };
  if (!applyBDecToInput) {
    // b_enc - s (W mean) W_enc, with s W W_enc already in wEnc: b_enc - mean . wEnc.
    out.b_enc = Float32Array.from(b_enc, (b, k) => {
      let sum = 0;
      for (let i = 0; i < d; i++) sum += w.mean[i] * wEnc[i * dSae + k];
      return b - sum;
    });
  }
  return out;
}
