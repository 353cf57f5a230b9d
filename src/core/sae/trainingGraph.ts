import type { onnx } from 'onnx-proto';
import { attr, DataType, GraphBuilder, modelProto } from '../onnx/builder';
import type { ArchTrainingSettings, SaeArchitecture, StepResult } from './architectures';
import { DECODER_T } from './architectures/types';
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
 *
 * Inside, the decoder and its moments are held transposed (see DECODER_T).
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

/** A parameter's name inside the training graphs: the decoder is held transposed. */
const trainedName = (name: string): string => (name === 'W_dec' ? DECODER_T : name);
const isTransposed = (name: string): boolean => name === 'W_dec';

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
    // As a [1, d_sae] x [d_sae, d_in] Gemm: onnxruntime's MatMul with a vector operand is far slower.
    const row = ops.b.op('Unsqueeze', [grads.b_enc, ops.int64([0])]);
    grads.b_dec = ops.sub(grads.b_dec, ops.b.op('Squeeze', [ops.gemm(row, params.W_enc, { transB: true }), ops.int64([0])]));
  }
  // The same indicator the backward passes use for their ReLU masks: onnxruntime merges the two.
  const firedCount = ops.sum(ops.positive(result.acts), 0);
  const fired = ops.b.op('Greater', [firedCount, ops.scalar(0)]);
  const stepsSinceFired = ops.b.op('Where', [fired, ops.scalar(0), ops.add(inputs.stepsSinceFired, ops.scalar(1))]);
  const l0 = ops.mul(ops.sumAll(firedCount), invBatch);
  return { ...result, grads, stepsSinceFired, l0 };
}

/**
 * Gives the value `value` the name `name`, renaming the output of the node that
 * makes it and every reader (in subgraphs too). A Loop body's carried outputs are
 * named this way rather than through Identity nodes, which would copy every
 * parameter and moment on every step. A value is named once.
 */
function nameValue(b: GraphBuilder, value: string, name: string): string {
  const producer = b.nodes.find((n) => n.output?.includes(value));
  if (!producer) return b.op('Identity', [value], {}, name);
  const rename = (nodes: onnx.INodeProto[]) => {
    for (const n of nodes) {
      n.input = n.input?.map((i) => (i === value ? name : i));
      for (const a of n.attribute ?? []) if (a.g?.node) rename(a.g.node);
    }
  };
  producer.output = producer.output!.map((o) => (o === value ? name : o));
  rename(b.nodes);
  return name;
}

interface AdamState {
  param: string;
  m: string;
  v: string;
}

/**
 * Adam (Kingma and Ba; PyTorch's defaults and form), on moments the Loop holds
 * rescaled, M = m / (1 - b1) and V = v / (1 - b2), so that their updates lose a
 * pass each over the parameter: M <- b1 M + g, V <- b2 V + g^2. The scales and
 * the bias corrections are folded into the step size and epsilon:
 *   p -= c M / (sqrt(V) + e),  c = lr (1-b1) sqrt(1-b2^t) / ((1-b1^t) sqrt(1-b2)),
 *   e = eps sqrt(1-b2^t) / sqrt(1-b2),
 * which equals lr * m_hat / (sqrt(v_hat) + eps).
 */
function adamFragment(ops: Ops, spec: TrainingGraphSpec, t: string, lr: string, state: Record<string, AdamState>, grads: Record<string, string>) {
  const { beta1, beta2, epsilon } = spec.adam;
  const bc1 = ops.sub(ops.scalar(1), ops.b.op('Pow', [ops.scalar(beta1), t]));
  const bc2Root = ops.sqrt(ops.sub(ops.scalar(1), ops.b.op('Pow', [ops.scalar(beta2), t])));
  const stepSize = ops.div(ops.mul(lr, ops.mul(bc2Root, ops.scalar((1 - beta1) / Math.sqrt(1 - beta2)))), bc1);
  const eps = ops.mul(ops.scalar(epsilon / Math.sqrt(1 - beta2)), bc2Root);
  const next: Record<string, AdamState> = {};
  for (const [name, s] of Object.entries(state)) {
    let g = grads[name];
    const unitColumns = name === DECODER_T && training(spec).unitNormDecoder;
    if (unitColumns) {
      // Decoder rows (columns of W_dec^T) are unit vectors: remove the gradient's component
      // along each, which would only change its norm (undone by the renormalisation below).
      g = ops.sub(g, ops.mul(ops.sum(ops.mul(g, s.param), 0, true), s.param));
    }
    const m = ops.add(ops.mul(ops.scalar(beta1), s.m), g);
    const v = ops.add(ops.mul(ops.scalar(beta2), s.v), ops.mul(g, g));
    let param = ops.sub(s.param, ops.mul(stepSize, ops.div(m, ops.add(ops.sqrt(v), eps))));
    if (unitColumns) param = ops.div(param, ops.sqrt(ops.sumSquares(param, 0, true)));
    next[name] = { param, m, v };
  }
  return next;
}

/** How the Loop holds Adam's moments: m / (1 - b1) and v / (1 - b2) (see adamFragment). */
function momentScale(spec: TrainingGraphSpec, moment: 'm' | 'v'): number {
  return 1 / (1 - (moment === 'm' ? spec.adam.beta1 : spec.adam.beta2));
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

  const outerOps = new Ops(outer, spec.elem);
  // Loop-carried values: outer input names, the Loop's initial values, body input names, body output
  // names, outer output names. The decoder and its moments are transposed on the way in and out, and
  // the moments rescaled.
  const carried: { input: string; initial: string; bodyIn: string; bodyOut: string; final: string; scale: number; transposed: boolean; shape: number[] | [] }[] = [];
  const carry = (input: string, shape: number[], transposed = false, scale = 1) => {
    outer.input(input, type, shape);
    const inner = transposed ? [shape[1], shape[0]] : shape;
    let initial = scale === 1 ? input : outerOps.mul(input, outerOps.scalar(scale));
    if (transposed) initial = outerOps.transpose(initial);
    const entry = { input, initial, bodyIn: `in_${input}`, bodyOut: `next_${input}`, final: outName(input), scale, transposed, shape: inner };
    carried.push(entry);
    return entry;
  };
  const carryAll = (moment?: 'm' | 'v') =>
    Object.fromEntries(
      shapes.map(([name, shape]) => [
        trainedName(name),
        moment ? carry(momentName(moment, name), shape, isTransposed(name), momentScale(spec, moment)) : carry(name, shape, isTransposed(name)),
      ]),
    );
  const paramCarry = carryAll();
  const mCarry = carryAll('m');
  const vCarry = carryAll('v');
  const stepCarry = carry('step', []);
  const firedCarry = carry('steps_since_fired', [spec.dSae]);

  const iter = body.input('iter', DataType.INT64, []);
  const condIn = body.input('cond_in', DataType.BOOL, []);
  for (const c of carried) body.input(c.bodyIn, type, c.shape);

  const pick = (sequence: string) => body.op('Gather', [sequence, iter], { axis: attr.int(0) });
  const batch = pick(x);
  const coefficients = Object.fromEntries(tr.coefficients.map((c, i) => [c, pick(coefInputs[i])]));
  const trained = Object.keys(paramCarry);
  const params = Object.fromEntries(trained.map((name) => [name, paramCarry[name].bodyIn]));
  const step = stepFragment(ops, spec, { x: batch, params, coefficients, stepsSinceFired: firedCarry.bodyIn });
  const t = ops.add(stepCarry.bodyIn, ops.scalar(1));
  const state = Object.fromEntries(trained.map((name) => [name, { param: paramCarry[name].bodyIn, m: mCarry[name].bodyIn, v: vCarry[name].bodyIn }]));
  const next = adamFragment(ops, spec, t, pick(lr), state, step.grads);

  const finalValues = new Map<string, string>([
    ...trained.flatMap((name): [string, string][] => [
      [paramCarry[name].input, next[name].param],
      [mCarry[name].input, next[name].m],
      [vCarry[name].input, next[name].v],
    ]),
    ['step', t],
    ['steps_since_fired', step.stepsSinceFired],
  ]);
  // Body outputs: the condition, then the carried values in the order of the inputs, then the per-step scans.
  body.output(ops.identity(condIn, 'cond_out'), DataType.BOOL, []);
  for (const c of carried) body.output(nameValue(body, finalValues.get(c.input)!, c.bodyOut), type, c.shape);

  const scans: [string, string][] = [
    ['loss', step.loss],
    ...Object.entries(step.parts).map(([name, value]): [string, string] => [`part_${name}`, value]),
    ['l0', step.l0],
  ];
  for (const [name, value] of scans) body.output(ops.identity(value, `scan_${name}`), type, []);

  const trips = outer.op('Gather', [outer.op('Shape', [x]), outerOps.int64([0], [])], { axis: attr.int(0) });
  const cond = outer.constant(new Uint8Array([1]), [], 'true');
  const loopOutputs = carried.map((c) => (c.transposed || c.scale !== 1 ? outer.fresh(`loop_${c.input}`) : c.final));
  outer.node(
    'Loop',
    [trips, cond, ...carried.map((c) => c.initial)],
    { body: attr.graph(body.toGraph('sae_training_step')) },
    [...loopOutputs, ...scans.map(([name]) => name)],
  );
  carried.forEach((c, i) => {
    let value = loopOutputs[i];
    if (c.transposed) value = outerOps.transpose(value);
    if (c.scale !== 1) value = outerOps.mul(value, outerOps.scalar(1 / c.scale));
    if (value !== c.final) nameValue(outer, value, c.final);
    outer.output(c.final, type, c.transposed ? [c.shape[1], c.shape[0]] : c.shape);
  });
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
  const params = Object.fromEntries(
    shapes.map(([name, shape]) => {
      const input = b.input(name, type, shape);
      return [trainedName(name), isTransposed(name) ? ops.transpose(input) : input];
    }),
  );
  const x = b.input('x', type, ['batch', spec.dIn]);
  const coefficients = Object.fromEntries(tr.coefficients.map((c) => [c, b.input(`coef_${c}`, type, [])]));
  const stepsSinceFired = b.input('steps_since_fired', type, [spec.dSae]);
  const frozenInputs = Object.fromEntries(frozen.map((name) => [name, b.input(`frozen_${name}`, type, ['batch', spec.dIn])]));
  const step = stepFragment(ops, spec, { x, params, coefficients, stepsSinceFired, frozen: frozenInputs });
  b.output(ops.identity(step.loss, 'loss'), type, []);
  for (const [name, value] of Object.entries(step.parts)) b.output(ops.identity(value, `part_${name}`), type, []);
  for (const [name, shape] of shapes) {
    const grad = step.grads[trainedName(name)];
    b.output(isTransposed(name) ? b.op('Transpose', [grad], { perm: attr.ints([1, 0]) }, `grad_${name}`) : ops.identity(grad, `grad_${name}`), type, shape);
  }
  for (const [name, value] of Object.entries(step.detached)) {
    b.outputs.push({ name: ops.identity(value, `detached_${name}`), type: { tensorType: { elemType: type } } });
  }
  return modelProto(b.toGraph(`sae_${spec.arch.name}_gradient`));
}
