import type { BlockResidual, DeltaFn } from '../lm';
import type { SaeSession } from '../sae';

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
  at: 'all' | 'last';
}

/** The delta function that carries out an intervention with the block's SAE. */
export function saeDelta(session: SaeSession, intervention: LatentIntervention): DeltaFn {
  const { sae } = session;
  const { edit, at } = intervention;
  const wDec = sae.params.W_dec;
  return async (r: BlockResidual) => {
    if (r.dModel !== sae.dIn) throw new RangeError(`block ${r.block}: the residual has width ${r.dModel}, the SAE d_in ${sae.dIn}`);
    const rows = editedRows(r, at);
    if (rows.length === 0) return null;
    const d = r.dModel;
    const x = new Float32Array(rows.length * d);
    rows.forEach((row, i) => x.set(r.data.subarray(row * d, (row + 1) * d), i * d));
    const f = await session.encode(x);
    const delta = new Float32Array(r.data.length);
    if (edit.kind === 'reconstruct') {
      const recon = await session.decode(f);
      rows.forEach((row, i) => {
        for (let j = 0; j < d; j++) delta[row * d + j] = recon[i * d + j] - x[i * d + j];
      });
      return delta;
    }
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

/** Row indices ([batch, positions] flattened) the intervention touches. */
function editedRows(r: BlockResidual, at: 'all' | 'last'): number[] {
  const rows: number[] = [];
  for (let b = 0; b < r.batch; b++) {
    const n = r.lengths[b];
    if (n === 0) continue;
    if (at === 'last') rows.push(b * r.positions + n - 1);
    else for (let p = 0; p < n; p++) rows.push(b * r.positions + p);
  }
  return rows;
}
