import type { BlockResidual, DeltaFn } from '../lm';
import { checkResidualWidth, gatherRows, reconstructionDelta, splicedRows, type SaeSession, type SplicePositions } from '../sae';
import { choleskySolve } from './probe';

/**
 * Interventions on SAE latents, spliced into the transformer through the delta
 * input of a block (DESIGN.md, "graph surgery"): the residual x at block L is
 * encoded, the chosen latents are edited, and
 *
 *     delta = decode(edited) - decode(original) = (f' - f) W_dec
 *
 * is added to x, so the SAE's error term x - decode(f) is preserved and only
 * what the edit changes reaches the rest of the model. The full-reconstruction
 * splice, the baseline of every lesion, instead replaces x by decode(f).
 */
export type LatentOp = { kind: 'ablate' } | { kind: 'clamp'; value: number } | { kind: 'scale'; factor: number };

export type Edit = { kind: 'reconstruct' } | { kind: 'latents'; latents: readonly number[]; op: LatentOp };

export interface LatentIntervention {
  block: number;
  edit: Edit;
  /**
   * 'all': every position; 'last': the last position of each sequence in a pass,
   * which, when the model plays, is the decision point being answered.
   */
  at: SplicePositions;
}

/** The delta function that carries out an intervention with the block's SAE. */
export function saeDelta(session: SaeSession, intervention: LatentIntervention): DeltaFn {
  const { sae } = session;
  const { edit, at } = intervention;
  if (edit.kind === 'reconstruct') return reconstructionDelta(session, at);
  const wDec = sae.params.W_dec;
  return async (r: BlockResidual) => {
    checkResidualWidth(r, session);
    const rows = splicedRows(r, at);
    if (rows.length === 0) return null;
    const d = r.dModel;
    const f = await session.encode(gatherRows(r.data, d, rows));
    const delta = new Float32Array(r.data.length);
    rows.forEach((row, i) => {
      for (const k of edit.latents) {
        const before = f[i * sae.dSae + k];
        const change = edited(before, edit.op) - before;
        if (change === 0) continue;
        for (let j = 0; j < d; j++) delta[row * d + j] += change * wDec[k * d + j];
      }
    });
    return delta;
  };
}

function edited(value: number, op: LatentOp): number {
  switch (op.kind) {
    case 'ablate':
      return 0;
    case 'clamp':
      return op.value;
    case 'scale':
      return value * op.factor;
  }
}

/**
 * A direction's reading held at a constant: at the chosen positions x becomes
 *
 *     x' = x - ((x - c) . w) w / |w|^2,
 *
 * the least change after which (x' - c) . w = 0. With w a linear probe's weights
 * and c the mean of the rows it was fitted on, the probe then reads its intercept
 * (the target's mean) everywhere: what it read is removed, and nothing orthogonal
 * to w moves. No SAE is involved, so there is no error term to keep.
 */
export function directionDelta(direction: { weights: ArrayLike<number>; center: ArrayLike<number> }, at: SplicePositions): DeltaFn {
  const { weights, center } = direction;
  const d = weights.length;
  if (center.length !== d) throw new RangeError(`direction: ${d} weights but a center of width ${center.length}`);
  let norm2 = 0;
  for (let j = 0; j < d; j++) norm2 += weights[j] * weights[j];
  if (!(norm2 > 0)) throw new RangeError('direction: the weights are all zero, so there is no direction to hold');
  return (r: BlockResidual) => {
    if (r.dModel !== d) throw new RangeError(`block ${r.block}: the residual has width ${r.dModel}, the direction ${d}`);
    const rows = splicedRows(r, at);
    if (rows.length === 0) return null;
    const delta = new Float32Array(r.data.length);
    for (const row of rows) {
      let reading = 0;
      for (let j = 0; j < d; j++) reading += (r.data[row * d + j] - center[j]) * weights[j];
      const k = reading / norm2;
      for (let j = 0; j < d; j++) delta[row * d + j] = -k * weights[j];
    }
    return delta;
  };
}

/** How much some rows vary along a probe's direction, its control's, and on average over all directions (root mean square, sqrt(trace C / d)). */
export interface DirectionSds {
  probe: number;
  control: number;
  random: number;
}

/**
 * A control direction for a probe's, for {@link directionDelta}: a random direction
 * g bent towards the rows' quieter directions, (C + t I)^-1 g (C their covariance),
 * with t found by bisection so that the rows vary along it exactly as much as along
 * the probe, and holding either moves the residual stream as far. (A ridge probe's
 * direction is a quiet one, nearly the least-varying mix of features that reads its
 * target; g itself, which (C + t I)^-1 g becomes as t grows, would vary several
 * times as much.)
 */
export function matchedControl(cov: Float64Array, d: number, probe: ArrayLike<number>, g: Float64Array): { control: Float64Array; sd: DirectionSds } {
  const sdAlong = (u: ArrayLike<number>) => {
    let quad = 0;
    let norm = 0;
    for (let j = 0; j < d; j++) {
      norm += u[j] * u[j];
      for (let k = 0; k < d; k++) quad += u[j] * cov[j * d + k] * u[k];
    }
    return Math.sqrt(quad / norm);
  };
  const sdProbe = sdAlong(probe);
  const trace = Array.from({ length: d }, (_, j) => cov[j * d + j]).reduce((a, b) => a + b, 0);
  const bent = (t: number) => {
    const a = Float64Array.from(cov);
    for (let j = 0; j < d; j++) a[j * d + j] += t;
    return choleskySolve(a, g, d);
  };
  let [lo, hi] = [Math.log(trace / d) - 20, Math.log(trace / d) + 20];
  for (let k = 0; k < 60; k++) {
    const mid = (lo + hi) / 2;
    if (sdAlong(bent(Math.exp(mid))) < sdProbe) lo = mid;
    else hi = mid;
  }
  const control = bent(Math.exp((lo + hi) / 2));
  const sdControl = sdAlong(control);
  if (!(Math.abs(sdControl / sdProbe - 1) < 1e-6)) {
    throw new RangeError(
      `matched control: the rows vary along the probe with sd ${sdProbe}, but bending the random direction reaches only ${sdControl}; ` +
        'a probe this loud needs no bent control (use the random direction, or a louder one)',
    );
  }
  return { control, sd: { probe: sdProbe, control: sdControl, random: Math.sqrt(trace / d) } };
}
