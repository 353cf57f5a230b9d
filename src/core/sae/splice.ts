import type { BlockResidual, DeltaFn } from '../lm';
import type { SaeSession } from './session';
import { gatherRows } from './source';

/**
 * Which positions of a pass an SAE splice touches. 'all': every real token;
 * 'last': the last token of each sequence in the pass, which, when the model
 * plays, is the decision point being answered; 'marked': the positions the
 * pass was told of ({@link BlockResidual.marks}), which, when the model plays
 * the two-step task, are the tokens showing each trip's reward.
 */
export type SplicePositions = 'all' | 'last' | 'marked';

/** Row indices ([batch, positions] flattened) of the positions a splice touches; padding is never touched. */
export function splicedRows(r: BlockResidual, at: SplicePositions): number[] {
  const rows: number[] = [];
  for (let b = 0; b < r.batch; b++) {
    const n = r.lengths[b];
    if (n === 0) continue;
    if (at === 'last') rows.push(b * r.positions + n - 1);
    else if (at === 'marked') {
      for (const m of r.marks[b]) if (m >= r.start[b] && m < r.start[b] + n) rows.push(b * r.positions + m - r.start[b]);
    } else for (let p = 0; p < n; p++) rows.push(b * r.positions + p);
  }
  return rows;
}

/** Throws unless the residual stream is as wide as the SAE's input. */
export function checkResidualWidth(r: BlockResidual, session: SaeSession): void {
  if (r.dModel !== session.sae.dIn) throw new RangeError(`block ${r.block}: the residual has width ${r.dModel}, the SAE's d_in is ${session.sae.dIn}`);
}

/**
 * The full-reconstruction splice through a block's delta input: at the chosen
 * positions the residual x becomes the SAE's reconstruction decode(encode(x))
 * (delta = x_hat - x); elsewhere it is left alone. The baseline of every lesion
 * and the middle term of the CE loss recovered.
 */
export function reconstructionDelta(session: SaeSession, at: SplicePositions = 'all'): DeltaFn {
  return async (r: BlockResidual) => {
    checkResidualWidth(r, session);
    const rows = splicedRows(r, at);
    if (rows.length === 0) return null;
    const d = r.dModel;
    const x = gatherRows(r.data, d, rows);
    const recon = await session.reconstruct(x);
    const delta = new Float32Array(r.data.length);
    rows.forEach((row, i) => {
      for (let j = 0; j < d; j++) delta[row * d + j] = recon[i * d + j] - x[i * d + j];
    });
    return delta;
  };
}
