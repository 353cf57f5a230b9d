import { open, readFile, writeFile } from 'node:fs/promises';

/**
 * The safetensors format (the field's standard for weights and activation shards):
 * an 8-byte little-endian header length N, N bytes of JSON
 * `{"__metadata__": {string: string}, name: {dtype, shape, data_offsets: [begin, end]}}`
 * padded with spaces so the data starts on an 8-byte boundary, then the raw
 * little-endian tensor bytes, offsets counted from the end of the header.
 */

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Headers larger than this are refused: a corrupt length must not allocate gigabytes. */
const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range of the data, counted from the start of the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Offset of the first data byte in the file. */
  dataStart: number;
}

/** A tensor as stored: raw little-endian bytes of its dtype. */
export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array;
}

export function bytesPerElement(dtype: SafetensorsDtype): number {
  return BYTES_PER_ELEMENT[dtype];
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Reads the header length from the first 8 bytes, checking it is plausible. */
export function headerLength(prefix: Uint8Array, fileBytes: number): number {
  if (prefix.length < 8) throw new SafetensorsError(`file of ${fileBytes} bytes is too short for a safetensors header`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER_BYTES, fileBytes - 8))) {
    throw new SafetensorsError(`header length ${n} does not fit a file of ${fileBytes} bytes`);
  }
  return Number(n);
}

/** Parses and validates the JSON header; `fileBytes` lets it check every offset. */
export function parseHeader(headerJson: Uint8Array, fileBytes: number): SafetensorsHeader {
  const dataStart = 8 + headerJson.length;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerJson));
  } catch (e) {
    throw new SafetensorsError(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SafetensorsError('header is not a JSON object');
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value);
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry !== 'object' || entry === null) throw new SafetensorsError(`tensor ${name}: entry is not an object`);
    if (typeof entry.dtype !== 'string' || !(entry.dtype in BYTES_PER_ELEMENT)) {
      throw new SafetensorsError(`tensor ${name}: unsupported dtype ${JSON.stringify(entry.dtype)}`);
    }
    const dtype = entry.dtype as SafetensorsDtype;
    if (!Array.isArray(entry.shape) || !entry.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError(`tensor ${name}: shape ${JSON.stringify(entry.shape)} is not a list of non-negative integers`);
    }
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      throw new SafetensorsError(`tensor ${name}: data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
    }
    const [b, e] = offsets as [number, number];
    const shape = entry.shape as number[];
    const expected = elementCount(shape) * BYTES_PER_ELEMENT[dtype];
    if (e - b !== expected) {
      throw new SafetensorsError(`tensor ${name}: ${e - b} bytes of data for ${dtype} shape [${shape.join(', ')}] (needs ${expected})`);
    }
    if (dataStart + e > fileBytes) throw new SafetensorsError(`tensor ${name}: data ends at ${dataStart + e}, past the file end ${fileBytes}`);
    tensors.set(name, { dtype, shape, begin: dataStart + b, end: dataStart + e });
    ranges.push([b, e, name]);
  }
  // The format forbids overlaps and holes: the tensors tile the data section exactly.
  ranges.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  let cursor = 0;
  for (const [b, e, name] of ranges) {
    if (b !== cursor) throw new SafetensorsError(`tensor ${name}: data starts at ${b}, expected ${cursor} (overlap or gap)`);
    cursor = e;
  }
  if (dataStart + cursor !== fileBytes) {
    throw new SafetensorsError(`data section is ${fileBytes - dataStart} bytes but the tensors cover ${cursor}`);
  }
  return { tensors, metadata, dataStart };
}

function parseMetadata(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SafetensorsError('__metadata__ is not an object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new SafetensorsError(`__metadata__.${k} is not a string`);
    out[k] = v;
  }
  return out;
}

/** Parses a whole safetensors file held in memory. */
export function deserialize(bytes: Uint8Array): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  const n = headerLength(bytes, bytes.length);
  const header = parseHeader(bytes.subarray(8, 8 + n), bytes.length);
  const tensors = new Map<string, RawTensor>();
  for (const [name, info] of header.tensors) {
    tensors.set(name, { dtype: info.dtype, shape: info.shape, data: bytes.slice(info.begin, info.end) });
  }
  return { tensors, metadata: header.metadata };
}

/**
 * The reference implementation lays tensors out by its dtype order, descending,
 * then by name; following it makes our files byte-identical to its files.
 */
const LAYOUT_RANK: Record<SafetensorsDtype, number> = { BOOL: 0, U8: 1, I8: 2, I16: 3, F16: 4, BF16: 5, I32: 6, F32: 7, F64: 8, I64: 9 };

function layoutOrder(names: string[], dtypeOf: (n: string) => SafetensorsDtype): string[] {
  return [...names].sort((a, b) => LAYOUT_RANK[dtypeOf(b)] - LAYOUT_RANK[dtypeOf(a)] || (a < b ? -1 : a > b ? 1 : 0));
}

/** Serialises tensors (raw bytes of their dtype) and string metadata to safetensors bytes. */
export function serialize(tensors: ReadonlyMap<string, RawTensor>, metadata?: Record<string, string>): Uint8Array {
  const names = layoutOrder([...tensors.keys()], (n) => tensors.get(n)!.dtype);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new SafetensorsError('a tensor cannot be named __metadata__');
    const t = tensors.get(name)!;
    const expected = elementCount(t.shape) * BYTES_PER_ELEMENT[t.dtype];
    if (t.data.byteLength !== expected) {
      throw new SafetensorsError(`tensor ${name}: ${t.data.byteLength} bytes for ${t.dtype} shape [${t.shape.join(', ')}] (needs ${expected})`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let cursor = 8 + padded;
  for (const name of names) {
    const data = tensors.get(name)!.data;
    out.set(data, cursor);
    cursor += data.byteLength;
  }
  return out;
}

export async function readSafetensors(path: string): Promise<{ tensors: Map<string, RawTensor>; metadata: Record<string, string> }> {
  const bytes = await readFile(path);
  try {
    return deserialize(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    if (e instanceof SafetensorsError) throw new SafetensorsError(`${path}: ${e.message}`);
    throw e;
  }
}

export async function writeSafetensors(path: string, tensors: ReadonlyMap<string, RawTensor>, metadata?: Record<string, string>): Promise<void> {
  await writeFile(path, serialize(tensors, metadata));
}

/**
 * A safetensors file opened for ranged reads: the header is parsed once, and a
 * tensor (or a run of its leading-axis rows) is read without loading the rest,
 * which is how activation shards are streamed.
 */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly header: SafetensorsHeader,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const handle = await open(path, 'r');
    try {
      const size = (await handle.stat()).size;
      const prefix = new Uint8Array(8);
      await handle.read(prefix, 0, 8, 0);
      const n = headerLength(prefix, size);
      const json = new Uint8Array(n);
      await handle.read(json, 0, n, 8);
      return new SafetensorsFile(path, parseHeader(json, size));
    } catch (e) {
      if (e instanceof SafetensorsError) throw new SafetensorsError(`${path}: ${e.message}`);
      throw e;
    } finally {
      await handle.close();
    }
  }

  info(name: string): TensorInfo {
    const info = this.header.tensors.get(name);
    if (!info) throw new SafetensorsError(`${this.path}: no tensor named ${name}`);
    return info;
  }

  /** Rows [start, end) along the first axis, as raw bytes. */
  async readRows(name: string, start: number, end: number): Promise<RawTensor> {
    const info = this.info(name);
    const rows = info.shape[0] ?? 1;
    if (!(start >= 0 && end <= rows && start <= end)) {
      throw new RangeError(`${this.path}: rows [${start}, ${end}) outside tensor ${name} of ${rows} rows`);
    }
    const rowBytes = rows === 0 ? 0 : (info.end - info.begin) / rows;
    const data = new Uint8Array((end - start) * rowBytes);
    const handle = await open(this.path, 'r');
    try {
      await handle.read(data, 0, data.length, info.begin + start * rowBytes);
    } finally {
      await handle.close();
    }
    return { dtype: info.dtype, shape: [end - start, ...info.shape.slice(1)], data };
  }

  async read(name: string): Promise<RawTensor> {
    const info = this.info(name);
    if (info.shape.length === 0) {
      const handle = await open(this.path, 'r');
      try {
        const data = new Uint8Array(info.end - info.begin);
        await handle.read(data, 0, data.length, info.begin);
        return { dtype: info.dtype, shape: [], data };
      } finally {
        await handle.close();
      }
    }
    return this.readRows(name, 0, info.shape[0]);
  }
}

// ---- conversions between stored dtypes and JavaScript arrays ----

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 to IEEE half, rounding to nearest even (as numpy and torch do). */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  // NaN keeps its top payload bits and stays a NaN, as numpy converts it.
  if (exp === 0xff) return sign | 0x7c00 | (mant ? mant >>> 13 || 1 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: the value is m * 2^-24 with m = full mantissa >> (14 - e).
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    let h = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** float32 to bfloat16 (the top 16 bits), rounding to nearest even. */
export function f32ToBf16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  // torch writes every NaN as the canonical quiet NaN.
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return 0x7fc0;
  return Math.floor((x + 0x7fff + ((x >>> 16) & 1)) / 65536) & 0xffff;
}

export function bf16BitsToF32(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0];
}

function littleEndianView(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

/** Decodes a floating-point tensor (F32, F16, BF16, F64) to float32 values. */
export function toFloat32(t: RawTensor): Float32Array {
  const n = elementCount(t.shape);
  const view = littleEndianView(t.data);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case 'F32':
      // A byte copy keeps every bit, NaN payloads included.
      new Uint8Array(out.buffer).set(t.data);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16BitsToF32(view.getUint16(2 * i, true));
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16BitsToF32(view.getUint16(2 * i, true));
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    default:
      throw new SafetensorsError(`dtype ${t.dtype} is not a floating-point type`);
  }
}

/** Decodes any numeric tensor to float64 values (integers exactly up to 2^53). */
export function toFloat64(t: RawTensor): Float64Array {
  const n = elementCount(t.shape);
  const view = littleEndianView(t.data);
  const out = new Float64Array(n);
  switch (t.dtype) {
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      return out;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true);
      return out;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      return out;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = view.getUint8(i);
      return out;
    default:
      return Float64Array.from(toFloat32(t));
  }
}

/** Encodes float32 values as a tensor of a floating-point dtype. */
export function fromFloat32(values: Float32Array, shape: readonly number[], dtype: 'F32' | 'F16' | 'BF16' | 'F64' = 'F32'): RawTensor {
  const n = elementCount(shape);
  if (values.length !== n) throw new RangeError(`${values.length} values do not fill shape [${shape.join(', ')}]`);
  const data = new Uint8Array(n * BYTES_PER_ELEMENT[dtype]);
  const view = littleEndianView(data);
  switch (dtype) {
    case 'F32':
      data.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      break;
    case 'F16':
      for (let i = 0; i < n; i++) view.setUint16(2 * i, f32ToF16Bits(values[i]), true);
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) view.setUint16(2 * i, f32ToBf16Bits(values[i]), true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) view.setFloat64(8 * i, values[i], true);
      break;
  }
  return { dtype, shape: [...shape], data };
}

/** Encodes numbers as an integer or float64 tensor. */
export function fromNumbers(values: ArrayLike<number>, shape: readonly number[], dtype: 'F64' | 'I64' | 'I32'): RawTensor {
  const n = elementCount(shape);
  if (values.length !== n) throw new RangeError(`${values.length} values do not fill shape [${shape.join(', ')}]`);
  const data = new Uint8Array(n * BYTES_PER_ELEMENT[dtype]);
  const view = littleEndianView(data);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (dtype === 'F64') view.setFloat64(8 * i, v, true);
    else if (!Number.isSafeInteger(v)) throw new RangeError(`value ${v} at ${i} is not an integer for ${dtype}`);
    else if (dtype === 'I64') view.setBigInt64(8 * i, BigInt(v), true);
    else view.setInt32(4 * i, v, true);
  }
  return { dtype, shape: [...shape], data };
}
