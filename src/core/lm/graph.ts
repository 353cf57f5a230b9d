import type { onnx } from 'onnx-proto';

/** Ops whose output describes their input's shape, not its values: no data flows through them. */
const SHAPE_ONLY = new Set(['Shape', 'Size']);

/** protobufjs decodes int64 fields as Long objects; dimensions and counts fit in a double. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/**
 * Who produces and who consumes each tensor of a graph, and the value
 * dependencies between tensors: what the structural analysis walks on. Nodes are
 * identified by their index in `graph.node`, since exporters do not always name
 * them uniquely.
 */
export class GraphIndex {
  readonly nodes: onnx.INodeProto[];
  readonly initializers = new Map<string, onnx.ITensorProto>();
  /** graph inputs that are fed at run time (initializers excluded) */
  readonly inputs: onnx.IValueInfoProto[];
  readonly outputs: onnx.IValueInfoProto[];
  private readonly producers = new Map<string, number>();
  private readonly consumerLists = new Map<string, number[]>();
  private readonly valueInfos = new Map<string, onnx.IValueInfoProto>();

  constructor(graph: onnx.IGraphProto) {
    this.nodes = graph.node ?? [];
    for (const init of graph.initializer ?? []) this.initializers.set(init.name ?? '', init);
    this.inputs = (graph.input ?? []).filter((v) => !this.initializers.has(v.name ?? ''));
    this.outputs = graph.output ?? [];
    for (const v of [...(graph.valueInfo ?? []), ...(graph.input ?? []), ...this.outputs]) this.valueInfos.set(v.name ?? '', v);
    this.nodes.forEach((node, i) => {
      for (const out of node.output ?? []) if (out) this.producers.set(out, i);
      for (const input of node.input ?? []) {
        if (!input) continue;
        const list = this.consumerLists.get(input) ?? [];
        if (!list.includes(i)) list.push(i);
        this.consumerLists.set(input, list);
      }
    });
  }

  producer(tensor: string): number | undefined {
    return this.producers.get(tensor);
  }

  consumers(tensor: string): number[] {
    return this.consumerLists.get(tensor) ?? [];
  }

  /** Consumers that read the tensor's values, not only its shape. */
  dataConsumers(tensor: string): number[] {
    return this.consumers(tensor).filter((i) => !SHAPE_ONLY.has(this.nodes[i].opType ?? ''));
  }

  /** A readable label for a node: its name, or its op type and index when unnamed. */
  label(node: number): string {
    const n = this.nodes[node];
    return n.name ? `${n.name} (${n.opType})` : `#${node} (${n.opType})`;
  }

  /** The declared shape of a tensor: numbers for fixed dimensions, strings for symbolic ones, null when unknown. */
  shapeOf(tensor: string): (number | string | null)[] | null {
    const init = this.initializers.get(tensor);
    if (init) return (init.dims ?? []).map((d) => toNumber(d));
    const dims = this.valueInfos.get(tensor)?.type?.tensorType?.shape?.dim;
    if (!dims) return null;
    return dims.map((d) => (d.dimValue !== null && d.dimValue !== undefined ? toNumber(d.dimValue) : d.dimParam || null));
  }

  elemTypeOf(tensor: string): number | null {
    const init = this.initializers.get(tensor);
    if (init) return init.dataType ?? null;
    return this.valueInfos.get(tensor)?.type?.tensorType?.elemType ?? null;
  }

  /**
   * The nodes a tensor's value depends on, searched backwards from `target` and
   * stopping at `source`, or null when `target` does not depend on the value of
   * `source` at all. Shape-only reads do not count as dependence: every block's
   * attention mask may be sized from the embeddings without being computed from them.
   */
  dependence(source: string, target: string): Set<number> | null {
    const visited = new Set<number>();
    const seen = new Set<string>([target]);
    const stack = [target];
    let found = false;
    while (stack.length > 0) {
      const tensor = stack.pop()!;
      if (tensor === source) {
        found = true;
        continue;
      }
      const p = this.producers.get(tensor);
      if (p === undefined || visited.has(p) || SHAPE_ONLY.has(this.nodes[p].opType ?? '')) continue;
      visited.add(p);
      for (const input of this.nodes[p].input ?? []) {
        if (input && !seen.has(input)) {
          seen.add(input);
          stack.push(input);
        }
      }
    }
    return found ? visited : null;
  }
}
