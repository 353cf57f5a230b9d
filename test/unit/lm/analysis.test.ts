import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { attr, DataType, decodeModel, encodeModel, GraphBuilder, modelProto, valueInfo } from '../../../src/core/onnx/builder';
import { analyzeGraph } from '../../../src/core/lm/analysis';
import { ModelError } from '../../../src/core/lm/errors';
import { loadModel } from '../../../src/core/lm/runtime';
import { obfuscateNames, tempDir, writeModelFolder } from '../../fixtures/lm/folders';
import { randomMatrix } from '../../fixtures/lm/weights';
import { Rng } from '../../../src/core/random';
import { gptModel, llamaModel, maxAbsDiff, tokenIds } from '../../fixtures/lm/models';

const analyse = (bytes: Uint8Array, file = 'model.onnx') => analyzeGraph(decodeModel(bytes).graph!, file);

function rejectsWith(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => analyse(bytes, '/models/broken/model.onnx'),
    (err: unknown) => err instanceof ModelError && err.file === '/models/broken/model.onnx' && pattern.test(err.message) && err.fix.length > 0,
  );
}

describe('structural analysis', () => {
  test('GPT-style graphs: LayerNorm fused or decomposed, positions fed or computed', () => {
    const fused = analyse(gptModel().bytes);
    assert.equal(fused.blocks.length, 3);
    assert.deepEqual(
      fused.blocks.map((b) => [b.adds, b.attention, b.norms]),
      Array.from({ length: 3 }, () => [2, 'Softmax', ['LayerNormalization', 'LayerNormalization']]),
    );
    assert.equal(fused.finalNorm, 'LayerNormalization');
    assert.deepEqual(fused.inputs, { ids: 'input_ids', attentionMask: 'attention_mask', positionIds: 'position_ids' });
    assert.equal(fused.kvCache, null);
    assert.equal(fused.dModel, 16);
    assert.equal(fused.vocab, 48);

    const decomposed = analyse(gptModel({ norm: 'decomposed', positions: 'computed' }).bytes);
    assert.equal(decomposed.blocks.length, 3);
    assert.deepEqual(decomposed.blocks[1].norms, ['LayerNorm (decomposed)', 'LayerNorm (decomposed)']);
    assert.equal(decomposed.inputs.positionIds, null);

    const parallel = analyse(gptModel({ residual: 'parallel' }).bytes);
    assert.deepEqual(
      parallel.blocks.map((b) => [b.adds, b.attention]),
      Array.from({ length: 3 }, () => [2, 'Softmax']),
    );
  });

  test('Llama-style graphs: RMSNorm decomposed or fused, GQA, KV cache', () => {
    const plain = analyse(llamaModel().bytes);
    assert.equal(plain.blocks.length, 3);
    assert.deepEqual(plain.blocks[0].norms, ['RMSNorm (decomposed)', 'RMSNorm (decomposed)']);
    assert.equal(plain.finalNorm, 'RMSNorm (decomposed)');

    const cached = analyse(llamaModel({ norm: 'fused', kvCache: true }).bytes);
    assert.deepEqual(cached.blocks[2].norms, ['SimplifiedLayerNormalization', 'SimplifiedLayerNormalization']);
    assert.ok(cached.kvCache);
    assert.equal(cached.kvCache.layers, 3);
    assert.equal(cached.kvCache.kvHeads, 2);
    assert.equal(cached.kvCache.headDim, 8);
    assert.deepEqual(cached.kvCache.present[1], { key: 'present.1.key', value: 'present.1.value' });
  });

  test('renamed nodes and tensors are found by structure alone, and tap the same residual stream', async () => {
    const dir = tempDir();
    after(() => dir.remove());
    for (const m of [gptModel({ kvCache: true }), llamaModel()]) {
      const hidden = obfuscateNames(m.bytes, 5);
      const names = JSON.stringify((decodeModel(hidden).graph?.node ?? []).map((n) => [n.name, n.input, n.output]));
      assert.ok(!/transformer|model\.|layers|ln_|attn|mlp/.test(names), 'obfuscation left a telling name');
      const analysis = analyse(hidden);
      assert.equal(analysis.blocks.length, 3);
      const model = await loadModel(writeModelFolder(join(dir.path, m.name), hidden), { cacheDir: join(dir.path, 'cache'), provider: 'cpu' });
      const ids = tokenIds(6, m.config.vocab, 1);
      const result = await model.forward([ids], { taps: 'all', allPositions: true });
      const ref = m.reference(ids);
      for (let block = 0; block < 3; block++) assert.ok(maxAbsDiff(result.taps.get(block)![0], ref.taps[block]) < 1e-4);
      await model.dispose();
    }
  });
});

/** An embedding straight into a head: a graph with no residual connection. */
function noResidualModel(): Uint8Array {
  const g = new GraphBuilder();
  const rng = Rng.fromSeed(1);
  const ids = g.input('input_ids', DataType.INT64, ['b', 's']);
  const emb = randomMatrix(rng, 10, 4, 1);
  const head = randomMatrix(rng, 4, 10, 1);
  const x = g.op('Gather', [g.initializer('emb', emb.data, [10, 4]), ids], { axis: attr.int(0) });
  g.op('MatMul', [g.op('Relu', [x]), g.initializer('head', head.data, [4, 10])], {}, g.output('logits', DataType.FLOAT, ['b', 's', 10]));
  return encodeModel(modelProto(g.toGraph('flat')));
}

/** The GPT graph with its head cut off: it outputs the final norm's hidden states. */
function headlessModel(): Uint8Array {
  const proto = decodeModel(gptModel().bytes);
  const nodes = proto.graph?.node ?? [];
  const head = nodes.findIndex((n) => n.output?.includes('logits'));
  const hidden = nodes[head].input?.[0] ?? '';
  proto.graph = { ...proto.graph, node: nodes.filter((_, i) => i !== head), output: [valueInfo(hidden, DataType.FLOAT, ['batch_size', 'sequence_length', 16])] };
  return encodeModel(proto);
}

function withExtraInput(name: string, type: DataType): Uint8Array {
  const proto = decodeModel(gptModel().bytes);
  proto.graph = { ...proto.graph, input: [...(proto.graph?.input ?? []), valueInfo(name, type, ['batch_size'])] };
  return encodeModel(proto);
}

describe('graphs the analysis cannot use', () => {
  test('no residual connection: says what it looked for', () => {
    rejectsWith(noResidualModel(), /no residual connection found .*looked for an Add whose one input is the running residual stream/);
  });

  test('no token embedding: says what it looked for', () => {
    const g = new GraphBuilder();
    const ids = g.input('input_ids', DataType.INT64, ['b', 's']);
    const x = g.op('Cast', [ids], { to: attr.int(DataType.FLOAT) });
    g.op('Mul', [x, g.constant(Float32Array.of(2))], {}, g.output('logits', DataType.FLOAT, ['b', 's']));
    rejectsWith(encodeModel(modelProto(g.toGraph('no-embedding'))), /no token embedding found: looked for a Gather/);
  });

  test('a model without logits names the outputs it has', () => {
    rejectsWith(headlessModel(), /has no logits: looked for an output named 'logits'/);
  });

  test('an output of [batch, sequence, vocab] under another name is taken as the logits', () => {
    const proto = decodeModel(gptModel().bytes);
    for (const node of proto.graph?.node ?? []) node.output = node.output?.map((o) => (o === 'logits' ? 'output_0' : o));
    for (const output of proto.graph?.output ?? []) if (output.name === 'logits') output.name = 'output_0';
    assert.equal(analyse(encodeModel(proto)).logits, 'output_0');
  });

  test('inputs the runtime does not understand are named, with the fix', () => {
    rejectsWith(withExtraInput('token_type_ids', DataType.INT64), /'token_type_ids' is not understood by the runtime/);
    assert.throws(() => analyse(withExtraInput('use_cache_branch', DataType.BOOL)), (err: unknown) => err instanceof ModelError && /merged decoder/.test(err.fix));
  });
});
