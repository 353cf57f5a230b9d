import type { onnx } from 'onnx-proto';
import { attr, DataType, GraphBuilder, modelProto } from '../onnx/builder';
import type { ArchTrainingSettings, SaeArchitecture, StepResult } from './architectures';
import { Ops, onnxType, type ElemType } from './graph';

/**
 * The SAE training graphs: forward pass, hand-derived backward pass (in each
 * architecture's file) and Adam update, as plain ONNX models, because ONNX
 * Runtime has no training API for Node.
 *
 * The training model runs K steps in one `session.run`: a Loop node carries the
 * parameters, Adam's moments, the step count and the steps since each latent
 * last fired from one step to the next, so they cross into JavaScript once per
 * K steps, not once per step.
 *
 *   inputs   W_enc, b_enc, W_dec, b_dec (and any other parameter), m_<p>, v_<p>,
 *            step [] (steps done so far), steps_since_fired [d_sae],
 *            x [K, batch, d_in], lr [K], coef_<name> [K] for each scheduled coefficient
 *   outputs  <p>_out, m_<p>_out, v_<p>_out, step_out, steps_since_fired_out,
 *            loss [K], part_<name> [K] (e.g. part_mse), l0 [K]
 */

export interface AdamSettings {
  beta1: number;
  beta2: number;
  epsilon: number;
}

export interface TrainingGraphSpec {
  arch: SaeArchitecture<unknown>;
  config: unknown;
  dIn: number;
  dSae: number;
  elem: ElemType;
  /** Whether the encoder sees x - b_dec (SAELens' apply_b_dec_to_input). */
  applyBDecToInput: boolean;
  settings: ArchTrainingSettings;
  adam: AdamSettings;
}

export const momentName = (moment: 'm' | 'v', param: string): string => `${moment}_${param}`;
export const outName = (name: string): string => `${name}_out`;

function training(spec: TrainingGraphSpec) {
  const t = spec.arch.training;
  if (!t) throw new Error(`architecture ${spec.arch.name} can be loaded and run, but not trained here`);
  return t;
}

function paramShapes(spec: TrainingGraphSpec): [string, number[]][] {
  return spec.arch.params.map((p) => [p.name, p.shape(spec.dIn, spec.dSae)]);
}

interface StepInputs {
  x: string;
  params: Record<string, string>;
  coefficients: Record<string, string>;
  stepsSinceFired: string;
  frozen?: Record<string, string>;
}

interface StepOutputs extends StepResult {
  /** Steps since each latent fired, after this batch. */
  stepsSinceFired: string;
  /** Mean number of active latents per row. */
  l0: string;
}

/** One forward and backward pass, with the b_dec input term and the dead-latent counters. */
function stepFragment(ops: Ops, spec: TrainingGraphSpec, inputs: StepInputs): StepOutputs {
  const { x, params } = inputs;
  const input = spec.applyBDecToInput ? ops.sub(x, params.b_dec) : x;
  const invBatch = ops.b.op('Reciprocal', [ops.dimAsScalar(x, 0)]);
  const result = training(spec).step(
    { ops, x, input, params, coefficients: inputs.coefficients, stepsSinceFired: inputs.stepsSinceFired, invBatch, frozen: inputs.frozen },
    spec.config,
    spec.settings,
  );
  const grads = { ...result.grads };
  if (spec.applyBDecToInput) {
    // input = x - b_dec and pre = input W_enc + b_enc, so the extra b_dec term is
    // -W_enc (sum_b dL/dpre_b) = -W_enc dL/db_enc: a matrix-vector product, not another matmul.
    grads.b_dec = ops.sub(grads.b_dec, ops.matmul(params.W_enc, grads.b_enc));
  }
  const active = ops.positive(result.acts);
  const firedCount = ops.sum(active, 0);
  const fired = ops.b.op('Greater', [firedCount, ops.scalar(0)]);
  const stepsSinceFired = ops.b.op('Where', [fired, ops.scalar(0), ops.add(inputs.stepsSinceFired, ops.scalar(1))]);
  const l0 = ops.mul(ops.sumAll(active), invBatch);
  return { ...result, grads, stepsSinceFired, l0 };
}

interface AdamState {
  param: string;
  m: string;
  v: string;
}

/**
 * Adam (Kingma and Ba; PyTorch's defaults and form), with the bias corrections
 * folded into the step size: p -= lr sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps sqrt(1-b2^t)),
 * which equals lr * m_hat / (sqrt(v_hat) + eps).
 */
function adamFragment(ops: Ops, spec: TrainingGraphSpec, t: string, lr: string, state: Record<string, AdamState>, grads: Record<string, string>) {
  const { beta1, beta2, epsilon } = spec.adam;
  const bc1 = ops.sub(ops.scalar(1), ops.b.op('Pow', [ops.scalar(beta1), t]));
  const bc2Root = ops.sqrt(ops.sub(ops.scalar(1), ops.b.op('Pow', [ops.scalar(beta2), t])));
  const stepSize = ops.div(ops.mul(lr, bc2Root), bc1);
  const eps = ops.mul(ops.scalar(epsilon), bc2Root);
  const next: Record<string, AdamState> = {};
  for (const [name, s] of Object.entries(state)) {
    let g = grads[name];
    if (name === 'W_dec' && training(spec).unitNormDecoder) {
      // Rows are unit vectors: remove the gradient's component along each row,
      // which would only change its norm (undone by the renormalisation below).
      g = ops.sub(g, ops.mul(ops.sum(ops.mul(g, s.param), 1, true), s.param));
    }
    const m = ops.add(ops.mul(ops.scalar(beta1), s.m), ops.mul(ops.scalar(1 - beta1), g));
    const v = ops.add(ops.mul(ops.scalar(beta2), s.v), ops.mul(ops.scalar(1 - beta2), ops.mul(g, g)));
    let param = ops.sub(s.param, ops.mul(stepSize, ops.div(m, ops.add(ops.sqrt(v), eps))));
    if (name === 'W_dec' && training(spec).unitNormDecoder) {
      param = ops.div(param, ops.sqrt(ops.sumSquares(param, 1, true)));
    }
    next[name] = { param, m, v };
  }
  return next;
}

/** The K-step training model (see the file comment for its inputs and outputs). */
export function buildTrainingModel(spec: TrainingGraphSpec): onnx.IModelProto {
  const tr = training(spec);
  const type = onnxType(spec.elem);
  const outer = new GraphBuilder();
  const body = new GraphBuilder('s_');
  const ops = new Ops(body, spec.elem);
  const shapes = paramShapes(spec);

  const x = outer.input('x', type, ['steps', 'batch', spec.dIn]);
  const lr = outer.input('lr', type, ['steps']);
  const coefInputs = tr.coefficients.map((c) => outer.input(`coef_${c}`, type, ['steps']));

  // Loop-carried values: outer initial names, body input names, body output names, outer final names.
  const carried: { initial: string; bodyIn: string; bodyOut: string; final: string; shape: number[] | [] }[] = [];
  const carry = (initial: string, shape: number[]) => {
    outer.input(initial, type, shape);
    const entry = { initial, bodyIn: `in_${initial}`, bodyOut: `next_${initial}`, final: outName(initial), shape };
    carried.push(entry);
    return entry;
  };
  const paramCarry = Object.fromEntries(shapes.map(([name, shape]) => [name, carry(name, shape)]));
  const mCarry = Object.fromEntries(shapes.map(([name, shape]) => [name, carry(momentName('m', name), shape)]));
  const vCarry = Object.fromEntries(shapes.map(([name, shape]) => [name, carry(momentName('v', name), shape)]));
  const stepCarry = carry('step', []);
  const firedCarry = carry('steps_since_fired', [spec.dSae]);

  const iter = body.input('iter', DataType.INT64, []);
  const condIn = body.input('cond_in', DataType.BOOL, []);
  for (const c of carried) body.input(c.bodyIn, type, c.shape);

  const pick = (sequence: string) => body.op('Gather', [sequence, iter], { axis: attr.int(0) });
  const batch = pick(x);
  const coefficients = Object.fromEntries(tr.coefficients.map((c, i) => [c, pick(coefInputs[i])]));
  const params = Object.fromEntries(shapes.map(([name]) => [name, paramCarry[name].bodyIn]));
  const step = stepFragment(ops, spec, { x: batch, params, coefficients, stepsSinceFired: firedCarry.bodyIn });
  const t = ops.add(stepCarry.bodyIn, ops.scalar(1));
  const state = Object.fromEntries(
    shapes.map(([name]) => [name, { param: paramCarry[name].bodyIn, m: mCarry[name].bodyIn, v: vCarry[name].bodyIn }]),
  );
  const next = adamFragment(ops, spec, t, pick(lr), state, step.grads);

  const finalValues = new Map<string, string>([
    ...shapes.flatMap(([name]): [string, string][] => [
      [name, next[name].param],
      [momentName('m', name), next[name].m],
      [momentName('v', name), next[name].v],
    ]),
    ['step', t],
    ['steps_since_fired', step.stepsSinceFired],
  ]);
  // Body outputs: the condition, then the carried values in the order of the inputs, then the per-step scans.
  body.output(ops.identity(condIn, 'cond_out'), DataType.BOOL, []);
  for (const c of carried) body.output(ops.identity(finalValues.get(c.initial)!, c.bodyOut), type, c.shape);

  const scans: [string, string][] = [
    ['loss', step.loss],
    ...Object.entries(step.parts).map(([name, value]): [string, string] => [`part_${name}`, value]),
    ['l0', step.l0],
  ];
  for (const [name, value] of scans) body.output(ops.identity(value, `scan_${name}`), type, []);

  const outerOps = new Ops(outer, spec.elem);
  const trips = outer.op('Gather', [outer.op('Shape', [x]), outerOps.int64([0], [])], { axis: attr.int(0) });
  const cond = outer.constant(new Uint8Array([1]), [], 'true');
  outer.node(
    'Loop',
    [trips, cond, ...carried.map((c) => c.initial)],
    { body: attr.graph(body.toGraph('sae_training_step')) },
    [...carried.map((c) => c.final), ...scans.map(([name]) => name)],
  );
  for (const c of carried) outer.output(c.final, type, c.shape);
  for (const [name] of scans) outer.output(name, type, ['steps']);
  return modelProto(outer.toGraph(`sae_${spec.arch.name}_training`));
}

/**
 * A model with the loss and its gradient for one batch, no update: for the
 * finite-difference check. Inputs: the parameters, x [batch, d_in], coef_<name> [],
 * steps_since_fired [d_sae], and, where `frozen` names them, frozen_<name> for
 * values the loss holds constant. Outputs: loss, part_<name>, grad_<param>,
 * detached_<name> (the values to freeze for a check at these parameters).
 */
export function buildGradientModel(spec: TrainingGraphSpec, frozen: readonly string[] = []): onnx.IModelProto {
  const tr = training(spec);
  const type = onnxType(spec.elem);
  const b = new GraphBuilder();
  const ops = new Ops(b, spec.elem);
  const shapes = paramShapes(spec);
  const params = Object.fromEntries(shapes.map(([name, shape]) => [name, b.input(name, type, shape)]));
  const x = b.input('x', type, ['batch', spec.dIn]);
  const coefficients = Object.fromEntries(tr.coefficients.map((c) => [c, b.input(`coef_${c}`, type, [])]));
  const stepsSinceFired = b.input('steps_since_fired', type, [spec.dSae]);
  const frozenInputs = Object.fromEntries(frozen.map((name) => [name, b.input(`frozen_${name}`, type, ['batch', spec.dIn])]));
  const step = stepFragment(ops, spec, { x, params, coefficients, stepsSinceFired, frozen: frozenInputs });
  b.output(ops.identity(step.loss, 'loss'), type, []);
  for (const [name, value] of Object.entries(step.parts)) b.output(ops.identity(value, `part_${name}`), type, []);
  for (const [name, shape] of shapes) b.output(ops.identity(step.grads[name], `grad_${name}`), type, shape);
  for (const [name, value] of Object.entries(step.detached)) {
    b.outputs.push({ name: ops.identity(value, `detached_${name}`), type: { tensorType: { elemType: type } } });
  }
  return modelProto(b.toGraph(`sae_${spec.arch.name}_gradient`));
}
