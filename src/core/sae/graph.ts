import { attr, DataType, GraphBuilder } from '../onnx/builder';

/** The element types an SAE graph is built in: float32 to train, float64 to check gradients. */
export type ElemType = 'float32' | 'float64';

export function onnxType(elem: ElemType): DataType {
  return elem === 'float32' ? DataType.FLOAT : DataType.DOUBLE;
}

/**
 * Typed shorthands over a {@link GraphBuilder} for the SAE graphs: constants in
 * the graph's element type, Gemm with transposes (MLAS packs the second operand
 * in either layout at no extra cost; a transposed first operand costs a copy per
 * slice of the result, see `transpose`), and the reductions
 * of opset 17 (ReduceSum takes its axes as an input).
 */
export class Ops {
  readonly type: DataType;
  private readonly scalars = new Map<number, string>();

  constructor(
    readonly b: GraphBuilder,
    readonly elem: ElemType,
  ) {
    this.type = onnxType(elem);
  }

  /** A scalar constant of the element type (one initializer per distinct value). */
  scalar(value: number): string {
    let name = this.scalars.get(value);
    if (name === undefined) {
      const data = this.elem === 'float32' ? new Float32Array([value]) : new Float64Array([value]);
      name = this.b.constant(data, [], 'c');
      this.scalars.set(value, name);
    }
    return name;
  }

  int64(values: number[], dims: number[] = [values.length]): string {
    return this.b.constant(BigInt64Array.from(values.map(BigInt)), dims, 'i');
  }

  add(a: string, c: string): string {
    return this.b.op('Add', [a, c]);
  }
  sub(a: string, c: string): string {
    return this.b.op('Sub', [a, c]);
  }
  mul(a: string, c: string): string {
    return this.b.op('Mul', [a, c]);
  }
  div(a: string, c: string): string {
    return this.b.op('Div', [a, c]);
  }
  relu(a: string): string {
    return this.b.op('Relu', [a]);
  }
  sqrt(a: string): string {
    return this.b.op('Sqrt', [a]);
  }
  neg(a: string): string {
    return this.b.op('Neg', [a]);
  }
  identity(a: string, output?: string): string {
    return this.b.op('Identity', [a], {}, output);
  }

  /** alpha * op(a) op(c) (+ bias), op transposing where asked. */
  gemm(a: string, c: string, options: { bias?: string; transA?: boolean; transB?: boolean; alpha?: number } = {}): string {
    const attributes: Record<string, ReturnType<typeof attr.int>> = {};
    if (options.transA) attributes.transA = attr.int(1);
    if (options.transB) attributes.transB = attr.int(1);
    if (options.alpha !== undefined) attributes.alpha = attr.float(options.alpha);
    return this.b.op('Gemm', options.bias ? [a, c, options.bias] : [a, c], attributes);
  }

  /**
   * A 2-D transpose. A product's small operand (a batch of inputs or of output
   * gradients, [batch, d_in]) is transposed once with this rather than by Gemm's
   * transA, which MLAS redoes for every 128 columns of the result.
   */
  transpose(a: string): string {
    return this.b.op('Transpose', [a], { perm: attr.ints([1, 0]) });
  }

  /** Sum of every element, as a scalar. */
  sumAll(a: string): string {
    return this.b.op('ReduceSum', [a], { keepdims: attr.int(0) });
  }

  sum(a: string, axis: number, keepdims = false): string {
    return this.b.op('ReduceSum', [a, this.int64([axis])], { keepdims: attr.int(keepdims ? 1 : 0) });
  }

  /** As ReduceSum of a * a: onnxruntime's ReduceSumSquare over a leading axis is five times slower. */
  sumSquares(a: string, axis: number, keepdims = false): string {
    return this.sum(this.mul(a, a), axis, keepdims);
  }

  /** 1 where a > 0, else 0, in the element type. */
  positive(a: string): string {
    return this.b.op('Cast', [this.b.op('Greater', [a, this.scalar(0)])], { to: attr.int(this.type) });
  }

  cast(a: string, to: DataType): string {
    return this.b.op('Cast', [a], { to: attr.int(to) });
  }

  /** The size of axis `axis` of `a`, as a scalar of the element type. */
  dimAsScalar(a: string, axis: number): string {
    const shape = this.b.op('Shape', [a]);
    const dim = this.b.op('Gather', [shape, this.int64([axis], [])], { axis: attr.int(0) });
    return this.cast(dim, this.type);
  }

  /** Zeros shaped like `a`. */
  zerosLike(a: string): string {
    const zero = this.elem === 'float32' ? new Float32Array([0]) : new Float64Array([0]);
    return this.b.op('ConstantOfShape', [this.b.op('Shape', [a])], {
      value: attr.tensor({ dataType: this.type, dims: [1], rawData: new Uint8Array(zero.buffer) }),
    });
  }

  /** The k largest entries of each row: [values, int64 indices]. */
  topk(a: string, k: number): [string, string] {
    const [values, indices] = this.b.node('TopK', [a, this.int64([k])], { axis: attr.int(-1), largest: attr.int(1), sorted: attr.int(0) }, 2);
    return [values, indices];
  }

  /**
   * An If node: `whenTrue` and `whenFalse` build the two branches (subgraphs that
   * may read any value of this graph) and return the same number of outputs, of
   * the element type; only the branch taken runs.
   */
  ifElse(cond: string, whenTrue: (ops: Ops) => string[], whenFalse: (ops: Ops) => string[]): string[] {
    const branch = (build: (ops: Ops) => string[], tag: string) => {
      const sub = new GraphBuilder(this.b.fresh(tag));
      const outs = build(new Ops(sub, this.elem));
      for (const o of outs) sub.outputs.push({ name: sub.op('Identity', [o], {}, sub.fresh('out')), type: { tensorType: { elemType: this.type } } });
      return { graph: sub.toGraph(tag), count: outs.length };
    };
    const t = branch(whenTrue, 'then');
    const f = branch(whenFalse, 'else');
    if (t.count !== f.count) throw new Error(`If branches return ${t.count} and ${f.count} outputs`);
    return this.b.node('If', [cond], { then_branch: attr.graph(t.graph), else_branch: attr.graph(f.graph) }, t.count);
  }

  /** A dense [rows, cols] tensor that holds `values` at `indices` of each row and zeros elsewhere. */
  scatterRows(like: string, indices: string, values: string): string {
    return this.b.op('ScatterElements', [this.zerosLike(like), indices, values], { axis: attr.int(1) });
  }
}
