import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { onnx } from 'onnx-proto';
import { decodeModel, encodeModel, valueInfo } from '../onnx/builder';
import { analyzeGraph, type GraphAnalysis } from './analysis';
import { ModelError } from './errors';

/**
 * Graph surgery: the rewritten model exposes every block's residual stream as an
 * output and takes, per block, a delta that is added to that block's output
 * before the next block reads it.
 *
 *   resid.{i}  output, float32 [batch, sequence, d_model]: block i's output plus delta.{i},
 *              i.e. the residual stream block i+1 (or the final norm) reads
 *   delta.{i}  input, float32, broadcastable to [batch, sequence, d_model]; a [1, 1, d_model]
 *              zero leaves the model exactly as exported
 *
 * Half-precision models get Casts on both, so callers always see float32.
 */

/** Bump when the rewrite changes, so cached models from an older rewrite are not reused. */
export const SURGERY_VERSION = 1;

export const tapOutput = (block: number): string => `resid.${block}`;
export const deltaInput = (block: number): string => `delta.${block}`;

const CAST_TO = { float16: onnx.TensorProto.DataType.FLOAT16, bfloat16: onnx.TensorProto.DataType.BFLOAT16 } as const;

function cast(name: string, input: string, output: string, to: onnx.TensorProto.DataType): onnx.INodeProto {
  return { opType: 'Cast', name, input: [input], output: [output], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: to }] };
}

/** Renames every read of `from` to `to`, inside control-flow subgraphs too (they read outer tensors implicitly). */
function renameReads(nodes: onnx.INodeProto[], from: string, to: string): void {
  for (const node of nodes) {
    node.input = (node.input ?? []).map((name) => (name === from ? to : name));
    for (const a of node.attribute ?? []) {
      if (a.g) renameReads(a.g.node ?? [], from, to);
      for (const g of a.graphs ?? []) renameReads(g.node ?? [], from, to);
    }
  }
}

function allTensorNames(graph: onnx.IGraphProto): Set<string> {
  const names = new Set<string>();
  for (const v of [...(graph.input ?? []), ...(graph.output ?? [])]) names.add(v.name ?? '');
  for (const n of graph.node ?? []) for (const t of [...(n.input ?? []), ...(n.output ?? [])]) names.add(t);
  return names;
}

/** Adds the taps and delta inputs to `model` in place; `analysis` must describe its graph. */
export function rewriteModel(model: onnx.IModelProto, analysis: GraphAnalysis, file: string): void {
  const graph = model.graph!;
  const existing = allTensorNames(graph);
  const nodes = graph.node ?? [];
  const after = new Map<number, onnx.INodeProto[]>();
  for (const block of analysis.blocks) {
    const tap = tapOutput(block.index);
    const delta = deltaInput(block.index);
    for (const name of [tap, delta]) {
      if (existing.has(name)) {
        throw new ModelError(file, `the graph already has a tensor named '${name}', which the runtime adds for block ${block.index}`, 'rename that tensor in the export');
      }
    }
    const producer = nodes.findIndex((n) => (n.output ?? []).includes(block.tap));
    const added: onnx.INodeProto[] = [];
    let stream: string;
    if (analysis.residualType === 'float32') {
      stream = tap;
      added.push({ opType: 'Add', name: `icrl_lens/delta_add.${block.index}`, input: [block.tap, delta], output: [tap] });
    } else {
      const castDelta = `icrl_lens/delta.${block.index}.${analysis.residualType}`;
      stream = `icrl_lens/resid.${block.index}.${analysis.residualType}`;
      added.push(
        cast(`icrl_lens/delta_cast.${block.index}`, delta, castDelta, CAST_TO[analysis.residualType]),
        { opType: 'Add', name: `icrl_lens/delta_add.${block.index}`, input: [block.tap, castDelta], output: [stream] },
        cast(`icrl_lens/tap_cast.${block.index}`, stream, tap, onnx.TensorProto.DataType.FLOAT),
      );
    }
    // the new nodes are not in `nodes` yet, so only the former readers of the tap are renamed
    renameReads(nodes, block.tap, stream);
    after.set(producer, added);
    graph.input = [...(graph.input ?? []), valueInfo(delta, onnx.TensorProto.DataType.FLOAT, ['delta_batch', 'delta_sequence', analysis.dModel])];
    graph.output = [...(graph.output ?? []), valueInfo(tap, onnx.TensorProto.DataType.FLOAT, ['batch_size', 'sequence_length', analysis.dModel])];
  }
  // keep the node list topologically sorted: each new Add right after the Add it extends
  graph.node = nodes.flatMap((n, i) => [n, ...(after.get(i) ?? [])]);
}

/** Where rewritten models are kept unless the caller says otherwise. */
export function defaultCacheDir(): string {
  const base =
    process.env.XDG_CACHE_HOME ||
    (process.platform === 'win32' ? process.env.LOCALAPPDATA : undefined) ||
    (process.platform === 'darwin' ? join(homedir(), 'Library', 'Caches') : join(homedir(), '.cache'));
  return join(base || homedir(), 'icrl-lens', 'models');
}

export interface PreparedModel {
  /** the rewritten model file, or its bytes when no cache directory is used */
  model: string | Uint8Array;
  /**
   * The folder the original model's external data files are in, or null when its
   * weights are inline. The rewritten graph refers to them by the same relative
   * locations, so a session must be told to look there (onnxruntime refuses
   * external data reached through links out of the model's own folder).
   */
  externalDataFolder: string | null;
  analysis: GraphAnalysis;
  /** sha256 of the original model file */
  hash: string;
  /** true when the rewrite was found in the cache */
  cached: boolean;
}

function hasExternalData(graph: onnx.IGraphProto): boolean {
  const external = (t: onnx.ITensorProto) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
  return (
    (graph.initializer ?? []).some(external) ||
    (graph.node ?? []).some((n) => (n.attribute ?? []).some((a) => (a.t && external(a.t)) || [a.g, ...(a.graphs ?? [])].some((g) => g && hasExternalData(g))))
  );
}

function analyse(bytes: Uint8Array, file: string): { model: onnx.ModelProto; analysis: GraphAnalysis } {
  let model: onnx.ModelProto;
  try {
    model = decodeModel(bytes);
  } catch (err) {
    throw new ModelError(
      file,
      `not a readable ONNX model (${err instanceof Error ? err.message : String(err)})`,
      'check that the file is a complete .onnx export (a Git LFS pointer or a truncated download is not)',
    );
  }
  if (!model.graph) throw new ModelError(file, 'the ONNX model has no graph', 'export the model again');
  return { model, analysis: analyzeGraph(model.graph, file) };
}

/**
 * Reads, analyses and rewrites a model, reusing an earlier rewrite of the same
 * bytes from `cacheDir`: a folder per content hash and surgery version, holding
 * model.onnx and analysis.json. With `cacheDir` false the rewrite stays in memory.
 */
export function prepareModel(modelFile: string, cacheDir: string | false): PreparedModel {
  const bytes = readFileSync(modelFile);
  const hash = createHash('sha256').update(bytes).digest('hex');
  const folder = dirname(resolve(modelFile));
  const entry = cacheDir === false ? null : join(cacheDir, `${hash.slice(0, 32)}.v${SURGERY_VERSION}`);
  if (entry && existsSync(join(entry, 'analysis.json')) && existsSync(join(entry, 'model.onnx'))) {
    const saved = JSON.parse(readFileSync(join(entry, 'analysis.json'), 'utf8')) as CacheRecord;
    if (saved.surgeryVersion === SURGERY_VERSION && saved.hash === hash) {
      return { model: join(entry, 'model.onnx'), externalDataFolder: saved.externalData ? folder : null, analysis: saved.analysis, hash, cached: true };
    }
  }
  const { model, analysis } = analyse(bytes, modelFile);
  const externalData = hasExternalData(model.graph!);
  rewriteModel(model, analysis, modelFile);
  const rewritten = encodeModel(model);
  const externalDataFolder = externalData ? folder : null;
  if (!entry) return { model: rewritten, externalDataFolder, analysis, hash, cached: false };
  mkdirSync(entry, { recursive: true });
  // written under temporary names and renamed, so a crash never leaves a half-written entry that looks complete
  const record: CacheRecord = { surgeryVersion: SURGERY_VERSION, hash, source: resolve(modelFile), externalData, analysis };
  writeAtomically(join(entry, 'model.onnx'), rewritten);
  writeAtomically(join(entry, 'analysis.json'), JSON.stringify(record, null, 2));
  return { model: join(entry, 'model.onnx'), externalDataFolder, analysis, hash, cached: false };
}

interface CacheRecord {
  surgeryVersion: number;
  hash: string;
  /** the file first rewritten, for a person browsing the cache */
  source: string;
  externalData: boolean;
  analysis: GraphAnalysis;
}

function writeAtomically(file: string, data: Uint8Array | string): void {
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, data);
  renameSync(partial, file);
}
