import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  deserialize,
  serialize,
  toFloat32,
  toFloat64,
  fromFloat32,
  fromNumbers,
  f32ToF16Bits,
  f16BitsToF32,
  SafetensorsFile,
  SafetensorsError,
  type RawTensor,
  type SafetensorsDtype,
} from '../../../src/core/sae/safetensors';
import { pythonWithNumpy, runPython } from './python';

const SCRIPT = 'test/fixtures/sae/make_safetensors.py';
const python = pythonWithNumpy();
const skip = python === null ? 'no python3 with numpy: the reference safetensors files cannot be made' : false;

type Spelled = number | string;
interface ExpectedTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  source: Spelled[];
  decoded: Spelled[];
}
interface ExpectedFile {
  metadata: Record<string, string>;
  canonical: boolean;
  tensors: Record<string, ExpectedTensor>;
}

const number = (v: Spelled): number => (typeof v === 'number' ? v : Number(v.replace('inf', 'Infinity')));

function makeReference(): { dir: string; expected: Record<string, ExpectedFile> } {
  const dir = mkdtempSync(join(tmpdir(), 'safetensors-ref-'));
  const made = runPython(python!, [SCRIPT, 'make', dir]);
  assert.equal(made.status, 0, made.output);
  return { dir, expected: JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) };
}

function decodedValues(t: RawTensor): number[] {
  return ['F32', 'F16', 'BF16'].includes(t.dtype) ? [...toFloat32(t)] : [...toFloat64(t)];
}

test('reads safetensors files written by the independent Python reference', { skip }, () => {
  const { dir, expected } = makeReference();
  for (const [file, want] of Object.entries(expected)) {
    const { tensors, metadata } = deserialize(readFileSync(join(dir, file)));
    assert.deepEqual(metadata, want.metadata, file);
    assert.deepEqual([...tensors.keys()].sort(), Object.keys(want.tensors).sort(), file);
    for (const [name, w] of Object.entries(want.tensors)) {
      const t = tensors.get(name)!;
      assert.equal(t.dtype, w.dtype, `${file}/${name}`);
      assert.deepEqual(t.shape, w.shape, `${file}/${name}`);
      const got = decodedValues(t);
      assert.equal(got.length, w.decoded.length, `${file}/${name}`);
      // Object.is tells -0 from 0 and matches NaN.
      got.forEach((v, i) => assert.ok(Object.is(v, number(w.decoded[i])), `${file}/${name}[${i}]: ${v} != ${w.decoded[i]}`));
    }
  }
});

test('writes bytes the Python reference reads back identically, and round-trips its files byte for byte', { skip }, () => {
  const { dir, expected } = makeReference();
  const ours = join(dir, 'ours');
  mkdirSync(ours);
  for (const [file, want] of Object.entries(expected)) {
    if (!want.canonical) continue;
    const tensors = new Map<string, RawTensor>();
    for (const [name, w] of Object.entries(want.tensors)) {
      const values = w.source.map(number);
      tensors.set(
        name,
        w.dtype === 'F32' || w.dtype === 'F16' || w.dtype === 'BF16'
          ? fromFloat32(Float32Array.from(values), w.shape, w.dtype)
          : w.dtype === 'U8'
            ? { dtype: 'U8', shape: w.shape, data: Uint8Array.from(values) }
            : fromNumbers(values, w.shape, w.dtype as 'F64' | 'I64' | 'I32'),
      );
    }
    writeFileSync(join(ours, file), serialize(tensors, want.metadata));
    const theirs = readFileSync(join(dir, file));
    const reread = deserialize(theirs);
    assert.deepEqual(Buffer.from(serialize(reread.tensors, reread.metadata)), theirs, `${file} re-serialised`);
  }
  const checked = runPython(python!, [SCRIPT, 'check', ours]);
  assert.equal(checked.status, 0, checked.output);
});

test('reads a file laid out in an unusual order, and reads row ranges without loading the rest', { skip }, async () => {
  const { dir } = makeReference();
  const file = await SafetensorsFile.open(join(dir, 'unordered.safetensors'));
  assert.deepEqual(file.header.metadata, { a: '1', b: '' });
  const rows = await file.readRows('c_i32', 1, 2);
  assert.deepEqual([...toFloat64(rows)], [7, -7]);
  assert.deepEqual(rows.shape, [1, 2]);
  assert.deepEqual([...toFloat64(await file.read('b_i64'))], [-(2 ** 40), 0, 2 ** 53 - 1]);
});

test('float16 conversion rounds to nearest even and is exact on every half value', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = f16BitsToF32(h);
    if (Number.isNaN(v)) continue;
    assert.equal(f32ToF16Bits(v), h, `half 0x${h.toString(16)}`);
  }
  // Ties: halfway between 1 and the next half (1 + 2^-10) rounds to the even one.
  assert.equal(f16BitsToF32(f32ToF16Bits(1 + 2 ** -11)), 1);
  assert.equal(f16BitsToF32(f32ToF16Bits(1 + 3 * 2 ** -11)), 1 + 2 ** -9);
});

test('rejects malformed files with a message naming the problem', () => {
  const good = serialize(new Map([['w', fromFloat32(new Float32Array([1, 2]), [2])]]));
  assert.throws(() => deserialize(good.subarray(0, good.length - 1)), /past the file end|data section/);
  const bad = new Uint8Array(good);
  new DataView(bad.buffer).setBigUint64(0, 1n << 40n, true);
  assert.throws(() => deserialize(bad), SafetensorsError);
  const wrongShape = new TextEncoder().encode('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}');
  const file = new Uint8Array(8 + wrongShape.length + 8);
  new DataView(file.buffer).setBigUint64(0, BigInt(wrongShape.length), true);
  file.set(wrongShape, 8);
  assert.throws(() => deserialize(file), /tensor w: 8 bytes of data for F32 shape \[3\]/);
  assert.throws(() => serialize(new Map([['x', { dtype: 'F32', shape: [2], data: new Uint8Array(4) }]])), /tensor x/);
});
