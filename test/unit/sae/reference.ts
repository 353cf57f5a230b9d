/**
 * A second, independent implementation of SAE training for the tests: a tiny
 * reverse-mode automatic differentiation over dense float64 matrices, the two
 * losses written forward only, and Adam in plain TypeScript. It shares no code
 * and no hand-derived gradient with src/core/sae.
 */

export class Var {
  grad: Float64Array;
  backward: () => void = () => {};
  constructor(
    readonly data: Float64Array,
    readonly rows: number,
    readonly cols: number,
    readonly parents: Var[] = [],
  ) {
    this.grad = new Float64Array(data.length);
  }
}

export const leaf = (data: ArrayLike<number>, rows: number, cols: number) => new Var(Float64Array.from(data), rows, cols);

function make(rows: number, cols: number, parents: Var[], compute: (out: Float64Array) => void): Var {
  const out = new Float64Array(rows * cols);
  compute(out);
  return new Var(out, rows, cols, parents);
}

export function matmul(a: Var, b: Var): Var {
  if (a.cols !== b.rows) throw new Error(`matmul ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
  const out = make(a.rows, b.cols, [a, b], (o) => {
    for (let i = 0; i < a.rows; i++)
      for (let k = 0; k < a.cols; k++) {
        const av = a.data[i * a.cols + k];
        for (let j = 0; j < b.cols; j++) o[i * b.cols + j] += av * b.data[k * b.cols + j];
      }
  });
  out.backward = () => {
    for (let i = 0; i < a.rows; i++)
      for (let k = 0; k < a.cols; k++)
        for (let j = 0; j < b.cols; j++) {
          const go = out.grad[i * b.cols + j];
          a.grad[i * a.cols + k] += go * b.data[k * b.cols + j];
          b.grad[k * b.cols + j] += go * a.data[i * a.cols + k];
        }
  };
  return out;
}

/** Elementwise a op b, where b may be a [1, cols] row or a [rows, 1] column broadcast over a. */
function broadcastIndex(a: Var, b: Var): (i: number, j: number) => number {
  if (b.rows === a.rows && b.cols === a.cols) return (i, j) => i * a.cols + j;
  if (b.rows === 1 && b.cols === a.cols) return (_i, j) => j;
  if (b.cols === 1 && b.rows === a.rows) return (i) => i;
  if (b.rows === 1 && b.cols === 1) return () => 0;
  throw new Error(`cannot broadcast ${b.rows}x${b.cols} over ${a.rows}x${a.cols}`);
}

function binary(a: Var, b: Var, f: (x: number, y: number) => number, da: (x: number, y: number) => number, db: (x: number, y: number) => number): Var {
  const bi = broadcastIndex(a, b);
  const out = make(a.rows, a.cols, [a, b], (o) => {
    for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) o[i * a.cols + j] = f(a.data[i * a.cols + j], b.data[bi(i, j)]);
  });
  out.backward = () => {
    for (let i = 0; i < a.rows; i++)
      for (let j = 0; j < a.cols; j++) {
        const x = a.data[i * a.cols + j];
        const y = b.data[bi(i, j)];
        const go = out.grad[i * a.cols + j];
        a.grad[i * a.cols + j] += go * da(x, y);
        b.grad[bi(i, j)] += go * db(x, y);
      }
  };
  return out;
}

export const add = (a: Var, b: Var) => binary(a, b, (x, y) => x + y, () => 1, () => 1);
export const sub = (a: Var, b: Var) => binary(a, b, (x, y) => x - y, () => 1, () => -1);
export const mul = (a: Var, b: Var) => binary(a, b, (x, y) => x * y, (_x, y) => y, (x) => x);

function unary(a: Var, f: (x: number) => number, df: (x: number) => number): Var {
  const out = make(a.rows, a.cols, [a], (o) => a.data.forEach((x, i) => (o[i] = f(x))));
  out.backward = () => a.data.forEach((x, i) => (a.grad[i] += out.grad[i] * df(x)));
  return out;
}

export const relu = (a: Var) => unary(a, (x) => Math.max(x, 0), (x) => (x > 0 ? 1 : 0));
export const sqrt = (a: Var) => unary(a, Math.sqrt, (x) => 0.5 / Math.sqrt(x));
export const scale = (a: Var, c: number) => unary(a, (x) => c * x, () => c);
export const constant = (data: ArrayLike<number>, rows: number, cols: number) => leaf(data, rows, cols);

export function transpose(a: Var): Var {
  const out = make(a.cols, a.rows, [a], (o) => {
    for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) o[j * a.rows + i] = a.data[i * a.cols + j];
  });
  out.backward = () => {
    for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) a.grad[i * a.cols + j] += out.grad[j * a.rows + i];
  };
  return out;
}

/** Sum over columns: [rows, cols] -> [rows, 1]. */
export function sumCols(a: Var): Var {
  const out = make(a.rows, 1, [a], (o) => {
    for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) o[i] += a.data[i * a.cols + j];
  });
  out.backward = () => {
    for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) a.grad[i * a.cols + j] += out.grad[i];
  };
  return out;
}

export function sumAll(a: Var): Var {
  const out = make(1, 1, [a], (o) => (o[0] = a.data.reduce((s, v) => s + v, 0)));
  out.backward = () => a.grad.forEach((_g, i) => (a.grad[i] += out.grad[0]));
  return out;
}

/** Backpropagates from a scalar through every Var it depends on. */
export function backward(loss: Var): void {
  const order: Var[] = [];
  const seen = new Set<Var>();
  const visit = (v: Var) => {
    if (seen.has(v)) return;
    seen.add(v);
    v.parents.forEach(visit);
    order.push(v);
  };
  visit(loss);
  loss.grad[0] = 1;
  for (let i = order.length - 1; i >= 0; i--) order[i].backward();
}

// ---- the SAE losses, forward only ----

export interface RefParams {
  W_enc: Float64Array;
  b_enc: Float64Array;
  W_dec: Float64Array;
  b_dec: Float64Array;
}

export interface RefOptions {
  architecture: 'standard' | 'topk';
  dIn: number;
  dSae: number;
  applyBDecToInput: boolean;
  l1Coefficient: number;
  k: number;
  kAux: number;
  deadSteps: number;
  auxKCoefficient: number;
}

/** Indices of the k largest values of a row (ties broken by the lower index). */
function topIndices(row: ArrayLike<number>, k: number): number[] {
  return Array.from(row, (v, i) => [v, i] as const)
    .sort((p, q) => q[0] - p[0] || p[1] - q[1])
    .slice(0, k)
    .map(([, i]) => i);
}

/** Loss, its parts and gradients (by automatic differentiation), and the active mask of the batch. */
export function lossAndGrads(p: RefParams, xData: Float64Array, batch: number, o: RefOptions, stepsSinceFired: Float64Array) {
  const W_enc = leaf(p.W_enc, o.dIn, o.dSae);
  const b_enc = leaf(p.b_enc, 1, o.dSae);
  const W_dec = leaf(p.W_dec, o.dSae, o.dIn);
  const b_dec = leaf(p.b_dec, 1, o.dIn);
  const x = constant(xData, batch, o.dIn);
  const input = o.applyBDecToInput ? sub(x, b_dec) : x;
  const pre = add(matmul(input, W_enc), b_enc);
  let acts: Var;
  if (o.architecture === 'standard') {
    acts = relu(pre);
  } else {
    const mask = new Float64Array(batch * o.dSae);
    for (let b = 0; b < batch; b++) {
      for (const i of topIndices(pre.data.subarray(b * o.dSae, (b + 1) * o.dSae), o.k)) mask[b * o.dSae + i] = 1;
    }
    acts = mul(relu(pre), constant(mask, batch, o.dSae));
  }
  const xHat = add(matmul(acts, W_dec), b_dec);
  const err = sub(xHat, x);
  const mse = scale(sumAll(mul(err, err)), 1 / batch);
  const parts: Record<string, number> = { mse: mse.data[0] };
  let loss = mse;
  if (o.architecture === 'standard') {
    const norms = transpose(sqrt(sumCols(mul(W_dec, W_dec))));
    const l1 = scale(sumAll(mul(acts, norms)), 1 / batch);
    parts.l1 = l1.data[0];
    loss = add(loss, scale(l1, o.l1Coefficient));
  } else {
    const dead = Array.from(stepsSinceFired, (s) => s >= o.deadSteps);
    const nDead = dead.filter(Boolean).length;
    const auxMask = new Float64Array(batch * o.dSae);
    for (let b = 0; b < batch; b++) {
      const row = Array.from(pre.data.subarray(b * o.dSae, (b + 1) * o.dSae), (v, i) => (dead[i] ? v : -Infinity));
      for (const i of topIndices(row, o.kAux)) if (dead[i]) auxMask[b * o.dSae + i] = 1;
    }
    const auxActs = mul(relu(pre), constant(auxMask, batch, o.dSae));
    const residual = constant(err.data.map((v) => -v), batch, o.dIn);
    const auxErr = sub(matmul(auxActs, W_dec), residual);
    const weight = (o.auxKCoefficient * Math.min(nDead / o.kAux, 1)) / batch;
    const aux = scale(sumAll(mul(auxErr, auxErr)), weight);
    parts.aux = aux.data[0];
    loss = add(loss, aux);
  }
  backward(loss);
  const active = Array.from(acts.data, (v) => v > 0);
  return {
    loss: loss.data[0],
    parts,
    grads: { W_enc: W_enc.grad, b_enc: b_enc.grad, W_dec: W_dec.grad, b_dec: b_dec.grad } as RefParams,
    active,
  };
}

export interface RefAdamState {
  params: RefParams;
  m: RefParams;
  v: RefParams;
  step: number;
  stepsSinceFired: Float64Array;
}

const NAMES = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;

/** One Adam step in PyTorch's textbook form, with unit-norm decoder rows for TopK. */
export function adamStep(s: RefAdamState, x: Float64Array, batch: number, o: RefOptions, lr: number, beta1: number, beta2: number, eps: number) {
  const r = lossAndGrads(s.params, x, batch, o, s.stepsSinceFired);
  const t = s.step + 1;
  if (o.architecture === 'topk') {
    const g = r.grads.W_dec;
    const w = s.params.W_dec;
    for (let i = 0; i < o.dSae; i++) {
      let dot = 0;
      for (let j = 0; j < o.dIn; j++) dot += g[i * o.dIn + j] * w[i * o.dIn + j];
      for (let j = 0; j < o.dIn; j++) g[i * o.dIn + j] -= dot * w[i * o.dIn + j];
    }
  }
  for (const name of NAMES) {
    const p = s.params[name], m = s.m[name], v = s.v[name], g = r.grads[name];
    for (let i = 0; i < p.length; i++) {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      const mHat = m[i] / (1 - beta1 ** t);
      const vHat = v[i] / (1 - beta2 ** t);
      p[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  }
  if (o.architecture === 'topk') {
    const w = s.params.W_dec;
    for (let i = 0; i < o.dSae; i++) {
      let norm = 0;
      for (let j = 0; j < o.dIn; j++) norm += w[i * o.dIn + j] ** 2;
      for (let j = 0; j < o.dIn; j++) w[i * o.dIn + j] /= Math.sqrt(norm);
    }
  }
  for (let i = 0; i < o.dSae; i++) {
    let fired = false;
    for (let b = 0; b < batch; b++) fired ||= r.active[b * o.dSae + i];
    s.stepsSinceFired[i] = fired ? 0 : s.stepsSinceFired[i] + 1;
  }
  s.step = t;
  return r;
}
