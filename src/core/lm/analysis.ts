import { onnx } from 'onnx-proto';
import { ModelError } from './errors';
import { GraphIndex, toNumber } from './graph';

/**
 * Structural analysis of a decoder-only transformer graph: where the residual
 * stream is. The stream starts at the token embedding (a Gather of a [vocab,
 * d_model] weight at `input_ids`), runs through a chain of residual Adds, each
 * adding to the running stream a branch computed from it (attention or MLP, read
 * through a norm), and ends at the final norm that feeds the logits. A block is
 * an attention Add and the Adds that follow it up to the next attention Add; its
 * output, the tensor it taps, is its last Add. Names of nodes and internal tensors
 * are never consulted; only the graph's inputs and outputs are read by name,
 * because the runtime has to feed and read them.
 */

/** Ops that mark a branch as attention: a softmax over scores, or a fused attention kernel. */
const ATTENTION_OPS = new Set([
  'Softmax',
  'Attention',
  'MultiHeadAttention',
  'GroupQueryAttention',
  'PackedAttention',
  'PackedMultiHeadAttention',
  'SparseAttention',
  'DecoderMaskedMultiHeadAttention',
]);

/** Ops that pass the stream on unchanged in value: followed through while walking the chain. */
const TRANSPARENT_OPS = new Set(['Identity', 'Cast', 'Dropout']);

/** Ops that carry `input_ids` to the embedding Gather without changing the ids. */
const ID_PASS_OPS = new Set(['Cast', 'Reshape', 'Unsqueeze', 'Squeeze', 'Identity', 'Flatten']);

/** Ops between a weight initializer and its use that keep its [rows, cols] layout. */
const WEIGHT_PASS_OPS = new Set(['Identity', 'Cast', 'DequantizeLinear']);

export type ResidualType = 'float32' | 'float16' | 'bfloat16';

export interface BlockInfo {
  index: number;
  /** the tensor holding the block's output in the original graph (its last residual Add) */
  tap: string;
  /** the node that computes it */
  node: string;
  /** residual Adds in the block: 2 for sequential attention + MLP, 1 for a parallel block */
  adds: number;
  /** the op that marks the block's attention branch */
  attention: string;
  /** the norm each branch opens with, in order */
  norms: string[];
}

export interface KvCacheInfo {
  layers: number;
  /** key/value heads and head size, where the graph declares them as fixed dimensions */
  kvHeads: number | null;
  headDim: number | null;
  elemType: 'float32' | 'float16';
  past: { key: string; value: string }[];
  present: { key: string; value: string }[];
}

export interface GraphAnalysis {
  dModel: number;
  /** rows of the token embedding: token ids are in [0, vocab) */
  vocab: number;
  residualType: ResidualType;
  embedding: { node: string; weight: string };
  blocks: BlockInfo[];
  finalNorm: string;
  logits: string;
  inputs: { ids: string; attentionMask: string | null; positionIds: string | null };
  kvCache: KvCacheInfo | null;
}

const PAST_INPUT = /^past_key_values\.(\d+)\.(key|value)$/;
const PRESENT_OUTPUT = /^present\.(\d+)\.(key|value)$/;
const KNOWN_INPUTS = 'input_ids, attention_mask, position_ids and past_key_values.{i}.key/value';

export function analyzeGraph(graph: onnx.IGraphProto, file: string): GraphAnalysis {
  const index = new GraphIndex(graph);
  const inputs = classifyInputs(index, file);
  const embedding = findEmbedding(index, inputs.ids, file);
  const chain = walkResidualChain(index, embedding.output, file);
  const blocks = groupBlocks(index, chain.adds, file);
  const logits = findLogits(index, embedding.vocab, embedding.dModel, file);
  const tail = index.dependence(chain.end, logits);
  if (!tail) {
    throw new ModelError(
      file,
      `the residual stream ends at tensor '${chain.end}' after block ${blocks.length - 1}, but output '${logits}' is not computed from it; looked for the final norm and the head between them`,
      'export the whole causal-LM model (transformer and lm_head in one graph)',
    );
  }
  const stray = [...tail].find((n) => ATTENTION_OPS.has(index.nodes[n].opType ?? ''));
  if (stray !== undefined) {
    throw new ModelError(
      file,
      `the chain of residual Adds stops at tensor '${chain.end}' after block ${blocks.length - 1}, but ${index.label(stray)} still lies between it and '${logits}'; looked for an Add(x, f(x)) continuing the stream and found none (a post-norm block, or a fused op the analysis does not know)`,
      'export the model without graph optimisations (plain torch.onnx or optimum-cli export), so each residual connection is an Add node',
    );
  }
  return {
    dModel: embedding.dModel,
    vocab: embedding.vocab,
    residualType: embedding.residualType,
    embedding: { node: index.label(embedding.node), weight: embedding.weight },
    blocks,
    finalNorm: describeNorm(index, chain.end, tail),
    logits,
    inputs: { ids: inputs.ids, attentionMask: inputs.attentionMask, positionIds: inputs.positionIds },
    kvCache: kvCacheInfo(index, inputs.past, file),
  };
}

function classifyInputs(index: GraphIndex, file: string) {
  const names = index.inputs.map((v) => v.name ?? '');
  const unknown = names.filter((n) => !['input_ids', 'attention_mask', 'position_ids'].includes(n) && !PAST_INPUT.test(n));
  if (unknown.length > 0) {
    const merged = unknown.includes('use_cache_branch');
    throw new ModelError(
      file,
      `input${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not understood by the runtime, which feeds ${KNOWN_INPUTS}`,
      merged
        ? "this is Optimum's merged decoder (decoder_model_merged.onnx); export a single model instead: optimum-cli export onnx --task text-generation-with-past --model MODEL DIR (it writes model.onnx)"
        : 're-export the model with only those inputs, e.g. optimum-cli export onnx --task text-generation-with-past --model MODEL DIR',
    );
  }
  if (!names.includes('input_ids')) {
    throw new ModelError(
      file,
      `the graph has no 'input_ids' input (its inputs: ${names.join(', ') || 'none'}); the runtime feeds token ids`,
      'export the model taking input_ids [batch, sequence] (int64), not inputs_embeds',
    );
  }
  const past = names.filter((n) => PAST_INPUT.test(n));
  return {
    ids: 'input_ids',
    attentionMask: names.includes('attention_mask') ? 'attention_mask' : null,
    positionIds: names.includes('position_ids') ? 'position_ids' : null,
    past,
  };
}

/** Follows a weight back through Identity/Cast/DequantizeLinear to its initializer. */
function weightInitializer(index: GraphIndex, tensor: string): onnx.ITensorProto | null {
  let current = tensor;
  for (let step = 0; step < 4; step++) {
    const init = index.initializers.get(current);
    if (init) return init;
    const p = index.producer(current);
    if (p === undefined) return null;
    const node = index.nodes[p];
    if (node.opType === 'Constant') {
      return node.attribute?.find((a) => a.name === 'value')?.t ?? null;
    }
    if (!WEIGHT_PASS_OPS.has(node.opType ?? '')) return null;
    current = node.input?.[0] ?? '';
  }
  return null;
}

function residualTypeOf(dataType: number | null | undefined): ResidualType {
  if (dataType === onnx.TensorProto.DataType.FLOAT16) return 'float16';
  if (dataType === onnx.TensorProto.DataType.BFLOAT16) return 'bfloat16';
  return 'float32';
}

function findEmbedding(index: GraphIndex, ids: string, file: string) {
  const seen = new Set<string>([ids]);
  const frontier = [ids];
  while (frontier.length > 0) {
    const tensor = frontier.shift()!;
    for (const c of index.consumers(tensor)) {
      const node = index.nodes[c];
      if (node.opType === 'Gather' && node.input?.[1] === tensor) {
        const weightName = node.input?.[0] ?? '';
        const init = weightInitializer(index, weightName);
        const dims = (init?.dims ?? []).map((d) => toNumber(d));
        if (init && dims.length === 2) {
          const isQuantized = index.producer(weightName) !== undefined && index.nodes[index.producer(weightName)!].opType === 'DequantizeLinear';
          return {
            node: c,
            output: node.output?.[0] ?? '',
            weight: init.name ?? weightName,
            vocab: dims[0],
            dModel: dims[1],
            residualType: isQuantized ? ('float32' as const) : residualTypeOf(init.dataType),
          };
        }
      } else if (ID_PASS_OPS.has(node.opType ?? '') && node.input?.[0] === tensor) {
        for (const out of node.output ?? []) {
          if (out && !seen.has(out)) {
            seen.add(out);
            frontier.push(out);
          }
        }
      }
    }
  }
  throw new ModelError(
    file,
    `no token embedding found: looked for a Gather node that reads rows of a [vocab, d_model] weight at the indices given by input '${ids}' (directly or through Cast/Reshape/Unsqueeze), and found none`,
    'export the model with its token embedding inside the graph, taking input_ids rather than inputs_embeds',
  );
}

interface ResidualAdd {
  node: number;
  output: string;
  /** the residual stream the Add's branch reads */
  stream: string;
  branch: Set<number>;
}

function walkResidualChain(index: GraphIndex, start: string, file: string): { adds: ResidualAdd[]; end: string } {
  const adds: ResidualAdd[] = [];
  let stream = start;
  for (let guard = 0; guard < index.nodes.length; guard++) {
    const consumers = index.dataConsumers(stream);
    // GPT-NeoX's parallel residual adds x + attn(ln1(x)), then mlp(ln2(x)): a branch read from the stream before the last Add
    const sources = adds.length > 0 ? [stream, adds[adds.length - 1].stream] : [stream];
    const residual: ResidualAdd[] = [];
    for (const c of consumers) {
      const node = index.nodes[c];
      const operands = node.input ?? [];
      if (node.opType !== 'Add' || operands.length !== 2 || operands[0] === operands[1]) continue;
      const other = operands[0] === stream ? operands[1] : operands[0];
      for (const source of sources) {
        const branch = index.dependence(source, other);
        if (branch) {
          residual.push({ node: c, output: node.output?.[0] ?? '', stream: source, branch });
          break;
        }
      }
    }
    if (residual.length > 1) {
      throw new ModelError(
        file,
        `the residual stream '${stream}' feeds ${residual.length} Adds that each add a branch computed from it (${residual.map((r) => index.label(r.node)).join(', ')}); a residual stream continues through one`,
        'export the model without graph rewrites that duplicate the residual connection',
      );
    }
    if (residual.length === 1) {
      adds.push(residual[0]);
      stream = residual[0].output;
      continue;
    }
    if (consumers.length !== 1) break;
    const node = index.nodes[consumers[0]];
    const op = node.opType ?? '';
    const operands = node.input ?? [];
    // Before the first block the embedding may be scaled or have positions added (GPT-2's learned positions).
    const embeddingPrep = adds.length === 0 && (op === 'Add' || op === 'Mul') && operands.length === 2;
    if (!TRANSPARENT_OPS.has(op) && !embeddingPrep) break;
    stream = node.output?.[0] ?? '';
  }
  if (adds.length === 0) {
    throw new ModelError(
      file,
      `no residual connection found after the token embedding '${start}': looked for an Add whose one input is the running residual stream and whose other input is computed from it (an attention or MLP branch, read through a norm), and found none`,
      'export a decoder-only transformer as torch.onnx or optimum-cli export writes it, without fusing residual Adds into other ops',
    );
  }
  return { adds, end: stream };
}

function groupBlocks(index: GraphIndex, adds: ResidualAdd[], file: string): BlockInfo[] {
  const groups: { attention: string; adds: ResidualAdd[] }[] = [];
  for (const add of adds) {
    const marker = [...add.branch].find((n) => ATTENTION_OPS.has(index.nodes[n].opType ?? ''));
    if (marker !== undefined) {
      groups.push({ attention: index.nodes[marker].opType ?? '', adds: [add] });
    } else if (groups.length > 0) {
      groups[groups.length - 1].adds.push(add);
    } else {
      throw new ModelError(
        file,
        `the first residual Add ${index.label(add.node)} adds a branch without attention; looked for a Softmax or a fused attention op (${[...ATTENTION_OPS].join(', ')}) in the first block's branch`,
        'export a decoder-only transformer whose blocks start with attention',
      );
    }
  }
  return groups.map((g, i) => {
    const last = g.adds[g.adds.length - 1];
    return {
      index: i,
      tap: last.output,
      node: index.label(last.node),
      adds: g.adds.length,
      attention: g.attention,
      norms: g.adds.map((a) => describeNorm(index, a.stream, a.branch)),
    };
  });
}

/** Names the normalisation a branch applies to the stream first, recognising fused and decomposed forms. */
function describeNorm(index: GraphIndex, stream: string, branch: Set<number>): string {
  let readers = index.dataConsumers(stream).filter((n) => branch.has(n));
  // torch casts to float32 before normalising half-precision streams
  while (readers.length === 1 && index.nodes[readers[0]].opType === 'Cast') {
    const out = index.nodes[readers[0]].output?.[0] ?? '';
    readers = index.dataConsumers(out).filter((n) => branch.has(n));
    stream = out;
  }
  const ops = readers.map((n) => index.nodes[n].opType ?? '');
  for (const fused of ['LayerNormalization', 'SimplifiedLayerNormalization', 'RMSNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']) {
    if (ops.includes(fused)) return fused;
  }
  if (ops.includes('ReduceMean') && ops.includes('Sub')) return 'LayerNorm (decomposed)';
  const squares = readers.filter((n) => {
    const node = index.nodes[n];
    return node.opType === 'Pow' || (node.opType === 'Mul' && node.input?.[0] === stream && node.input?.[1] === stream);
  });
  const meanOfSquares = squares.some((n) => index.dataConsumers(index.nodes[n].output?.[0] ?? '').some((m) => index.nodes[m].opType === 'ReduceMean'));
  if (meanOfSquares) return 'RMSNorm (decomposed)';
  return ops.length > 0 ? `unrecognised (${[...new Set(ops)].join(', ')})` : 'none';
}

function findLogits(index: GraphIndex, vocab: number, dModel: number, file: string): string {
  const names = index.outputs.map((o) => o.name ?? '');
  if (names.includes('logits')) return 'logits';
  // An export with unconventional output names still has one [batch, seq, vocab] output besides the cache.
  const candidates = names.filter((n) => {
    const shape = index.shapeOf(n);
    return !PRESENT_OUTPUT.test(n) && shape !== null && shape.length === 3 && shape[2] === vocab && vocab !== dModel;
  });
  if (candidates.length === 1) return candidates[0];
  throw new ModelError(
    file,
    `the model has no logits: looked for an output named 'logits' (or a single [batch, sequence, ${vocab}] output) and found only ${names.map((n) => `'${n}'`).join(', ') || 'none'}`,
    'export the causal-LM model with its language-model head (e.g. optimum-cli export onnx --task text-generation-with-past), not the bare transformer that outputs hidden states',
  );
}

function kvCacheInfo(index: GraphIndex, pastNames: string[], file: string): KvCacheInfo | null {
  if (pastNames.length === 0) return null;
  const layers = Math.max(...pastNames.map((n) => Number(PAST_INPUT.exec(n)![1]))) + 1;
  const outputs = new Set(index.outputs.map((o) => o.name ?? ''));
  const past: KvCacheInfo['past'] = [];
  const present: KvCacheInfo['present'] = [];
  for (let i = 0; i < layers; i++) {
    const names = { key: `past_key_values.${i}.key`, value: `past_key_values.${i}.value` };
    const out = { key: `present.${i}.key`, value: `present.${i}.value` };
    for (const name of [names.key, names.value]) {
      if (!pastNames.includes(name)) {
        throw new ModelError(file, `the KV cache inputs are incomplete: '${name}' is missing while other past_key_values inputs exist`, 're-export the model with past_key_values for every layer');
      }
    }
    for (const name of [out.key, out.value]) {
      if (!outputs.has(name)) {
        throw new ModelError(
          file,
          `the model takes '${names.key}' but has no '${name}' output to carry the cache forward (Optimum names it present.{i}.key/value)`,
          'export with optimum-cli export onnx --task text-generation-with-past, which names the cache outputs present.{i}.key/value',
        );
      }
    }
    past.push(names);
    present.push(out);
  }
  const shape = index.shapeOf(past[0].key);
  const fixed = (d: number | string | null | undefined) => (typeof d === 'number' ? d : null);
  return {
    layers,
    kvHeads: fixed(shape?.[1]),
    headDim: fixed(shape?.[3]),
    elemType: index.elemTypeOf(past[0].key) === onnx.TensorProto.DataType.FLOAT16 ? 'float16' : 'float32',
    past,
    present,
  };
}
