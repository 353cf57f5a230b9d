import { onnx } from 'onnx-proto';

/**
 * A small builder for ONNX graphs written in TypeScript: the SAE training graph,
 * the test transformers, and the nodes that graph surgery adds. It produces plain
 * onnx-proto messages, so anything built here is an ordinary ONNX model.
 */

export const DataType = onnx.TensorProto.DataType;
export type DataType = onnx.TensorProto.DataType;

export type Dim = number | string;

export type TypedData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** Attribute constructors: ONNX distinguishes int from float, which a JS number cannot. */
export const attr = {
  int: (i: number): onnx.IAttributeProto => ({ type: onnx.AttributeProto.AttributeType.INT, i }),
  float: (f: number): onnx.IAttributeProto => ({ type: onnx.AttributeProto.AttributeType.FLOAT, f }),
  ints: (ints: number[]): onnx.IAttributeProto => ({ type: onnx.AttributeProto.AttributeType.INTS, ints }),
  floats: (floats: number[]): onnx.IAttributeProto => ({ type: onnx.AttributeProto.AttributeType.FLOATS, floats }),
  string: (s: string): onnx.IAttributeProto => ({ type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) }),
  tensor: (t: onnx.ITensorProto): onnx.IAttributeProto => ({ type: onnx.AttributeProto.AttributeType.TENSOR, t }),
  graph: (g: onnx.IGraphProto): onnx.IAttributeProto => ({ type: onnx.AttributeProto.AttributeType.GRAPH, g }),
};

export function dataTypeOf(data: TypedData): DataType {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Float64Array) return DataType.DOUBLE;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof BigInt64Array) return DataType.INT64;
  return DataType.BOOL;
}

/** A tensor message holding `data` as raw little-endian bytes. */
export function tensorProto(name: string, data: TypedData, dims: readonly number[]): onnx.ITensorProto {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new RangeError(`tensor ${name}: ${data.length} values do not fill dims [${dims.join(', ')}]`);
  }
  return {
    name,
    dataType: dataTypeOf(data),
    dims: [...dims],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  };
}

export function valueInfo(name: string, elemType: DataType, shape: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  readonly inputs: onnx.IValueInfoProto[] = [];
  readonly outputs: onnx.IValueInfoProto[] = [];
  private counter = 0;

  /** @param prefix makes generated names unique when several builders feed one model */
  constructor(private readonly prefix = '') {}

  /** A fresh tensor name, readable in a graph viewer. */
  fresh(hint: string): string {
    return `${this.prefix}${hint}_${this.counter++}`;
  }

  input(name: string, elemType: DataType, shape: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, shape));
    return name;
  }

  output(name: string, elemType: DataType, shape: readonly Dim[]): string {
    this.outputs.push(valueInfo(name, elemType, shape));
    return name;
  }

  initializer(name: string, data: TypedData, dims: readonly number[]): string {
    this.initializers.push(tensorProto(name, data, dims));
    return name;
  }

  /** A scalar or small constant as an initializer with a generated name. */
  constant(data: TypedData, dims: readonly number[] = [data.length], hint = 'const'): string {
    return this.initializer(this.fresh(hint), data, dims);
  }

  /** Adds a node and returns its output names (`nOutputs` of them, or the given names). */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, onnx.IAttributeProto> = {},
    outputs: number | readonly string[] = 1,
    domain = '',
  ): string[] {
    const outNames =
      typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : [...outputs];
    this.nodes.push({
      opType,
      domain,
      name: this.fresh(`${opType}_node`),
      input: [...inputs],
      output: outNames,
      attribute: Object.entries(attributes).map(([name, a]) => ({ ...a, name })),
    });
    return outNames;
  }

  /** A node with exactly one output, returned by name. */
  op(opType: string, inputs: readonly string[], attributes: Record<string, onnx.IAttributeProto> = {}, output?: string): string {
    return this.node(opType, inputs, attributes, output === undefined ? 1 : [output])[0];
  }

  toGraph(name: string): onnx.IGraphProto {
    return {
      name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
  }
}

export interface ModelOptions {
  opset?: number;
  producerName?: string;
  /** Extra operator sets, e.g. com.microsoft for contrib ops. */
  extraOpsets?: { domain: string; version: number }[];
}

export function modelProto(graph: onnx.IGraphProto, options: ModelOptions = {}): onnx.IModelProto {
  return {
    irVersion: 8,
    producerName: options.producerName ?? 'icrl-lens',
    opsetImport: [{ domain: '', version: options.opset ?? 17 }, ...(options.extraOpsets ?? [])],
    graph,
  };
}

export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

export function decodeModel(bytes: Uint8Array): onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
