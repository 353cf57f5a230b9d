import { checkInteger, checkKnownKeys, ConfigError } from '../config';
import { Rng, type RngState } from '../random';
import type { TabularSpec, Transition } from './types';
import { OBJECT_WORDS } from './words';

/**
 * The community graph of Schapiro et al. (2013): communities of densely linked
 * nodes arranged in a ring. Inside a community every node links to every other,
 * except that the community's two boundary nodes are not linked to each other;
 * instead each links to a boundary node of a neighbouring community. Every node
 * therefore has `communitySize - 1` neighbours (4 by default). Node
 * `k * communitySize + i` is member i of community k; members 0 and
 * `communitySize - 1` are the boundary nodes. A random walk moves to a uniformly
 * random neighbour at every step.
 */
export interface GraphConfig {
  /** Number of communities in the ring. */
  communities: number;
  /** Nodes per community. */
  communitySize: number;
  /**
   * Node names, in node order; null draws them from the seed out of
   * {@link OBJECT_WORDS}, so experiments differ in which object sits where.
   */
  words: string[] | null;
  /**
   * Steps of the walk per episode. The walk runs on across episodes; an
   * episode is a stretch of it, so accuracy can be followed episode by episode.
   */
  stepsPerEpisode: number;
}

export const GRAPH_DEFAULTS: GraphConfig = {
  communities: 3,
  communitySize: 5,
  words: null,
  stepsPerEpisode: 10,
};

const NAME = /^[a-z]+$/;

export function graphConfig(partial: Partial<GraphConfig> = {}): GraphConfig {
  checkKnownKeys('graph', partial, Object.keys(GRAPH_DEFAULTS));
  const c = { ...GRAPH_DEFAULTS, ...partial };
  checkInteger('graph.communities', c.communities, 2, 100);
  checkInteger('graph.communitySize', c.communitySize, 3, 100);
  checkInteger('graph.stepsPerEpisode', c.stepsPerEpisode, 1, 100_000);
  const n = c.communities * c.communitySize;
  if (c.words === null) {
    if (n > OBJECT_WORDS.length) {
      throw new ConfigError('graph.communities', c.communities, `at most ${OBJECT_WORDS.length} nodes in all without graph.words (communities * communitySize = ${n})`);
    }
    return { ...c };
  }
  checkNames('graph.words', c.words, n);
  return { ...c, words: [...c.words] };
}

function checkNames(field: string, words: unknown, n: number): void {
  const allowed = `${n} distinct lowercase words (letters a-z), none a prefix of another`;
  if (!Array.isArray(words) || words.length !== n) throw new ConfigError(field, words, allowed);
  words.forEach((w, i) => {
    if (typeof w !== 'string' || !NAME.test(w)) throw new ConfigError(`${field}[${i}]`, w, allowed);
    const clash = words.findIndex((o: string, j) => j !== i && o.startsWith(w));
    if (clash >= 0) throw new ConfigError(`${field}[${i}]`, w, `${allowed} (it starts ${field}[${clash}] = '${words[clash]}')`);
  });
}

/** One stretch of the walk: `nodes[0]` is where the previous episode ended, then one node per step. */
export interface GraphEpisode {
  nodes: number[];
}

export interface GraphJSON {
  kind: 'graph';
  config: GraphConfig;
  /** The node names in force (drawn at creation when config.words is null). */
  names: string[];
  current: number;
  /** Steps walked so far. */
  steps: number;
  rng: RngState;
}

export class CommunityGraph {
  private readonly adjacent: number[][];

  private constructor(
    readonly config: GraphConfig,
    readonly names: readonly string[],
    private node: number,
    private stepCount: number,
    private readonly rng: Rng,
  ) {
    this.adjacent = buildNeighbours(config.communities, config.communitySize);
  }

  /** Draws the node names (unless given) and a uniformly random start node from the seed. */
  static create(config: Partial<GraphConfig>, seed: number): CommunityGraph {
    const c = graphConfig(config);
    const rng = Rng.fromSeed(seed);
    const n = c.communities * c.communitySize;
    const names = c.words ?? rng.shuffle(OBJECT_WORDS).slice(0, n);
    return new CommunityGraph(c, names, rng.int(0, n), 0, rng);
  }

  static fromJSON(json: GraphJSON): CommunityGraph {
    const c = graphConfig(json.config);
    const n = c.communities * c.communitySize;
    checkNames('graph.names', json.names, n);
    checkInteger('graph.current', json.current, 0, n - 1);
    checkInteger('graph.steps', json.steps, 0);
    return new CommunityGraph(c, [...json.names], json.current, json.steps, Rng.fromState(json.rng));
  }

  toJSON(): GraphJSON {
    return {
      kind: 'graph',
      config: { ...this.config, words: this.config.words && [...this.config.words] },
      names: [...this.names],
      current: this.node,
      steps: this.stepCount,
      rng: this.rng.toJSON(),
    };
  }

  /** Number of nodes. */
  get size(): number {
    return this.names.length;
  }

  /** The node the walk is on now. */
  get current(): number {
    return this.node;
  }

  /** Steps walked so far. */
  get steps(): number {
    return this.stepCount;
  }

  /** The community a node belongs to. */
  community(node: number): number {
    return Math.floor(node / this.config.communitySize);
  }

  /** A node's neighbours, in increasing order. */
  neighbours(node: number): number[] {
    return [...this.adjacent[node]];
  }

  /** The 0/1 adjacency matrix (symmetric). */
  adjacency(): number[][] {
    return this.adjacent.map((nb) => {
      const row = new Array<number>(this.size).fill(0);
      for (const j of nb) row[j] = 1;
      return row;
    });
  }

  /** P[i][j]: the probability that the walk moves from node i to node j. */
  transitionMatrix(): number[][] {
    return this.adjacent.map((nb) => {
      const row = new Array<number>(this.size).fill(0);
      for (const j of nb) row[j] = 1 / nb.length;
      return row;
    });
  }

  /**
   * The best next-node accuracy any predictor can reach: the mean, over the
   * nodes predictions are made from, of max_j P(s, j). Without `fromNodes` the
   * mean is taken under the walk's stationary distribution (proportional to
   * degree). 1 / 4 for the default graph.
   */
  ceilingAccuracy(fromNodes?: readonly number[]): number {
    const best = this.adjacent.map((nb) => 1 / nb.length);
    if (fromNodes !== undefined) {
      if (fromNodes.length === 0) throw new RangeError('ceilingAccuracy: no nodes to average over');
      return fromNodes.reduce((sum, s) => sum + best[s], 0) / fromNodes.length;
    }
    const totalDegree = this.adjacent.reduce((sum, nb) => sum + nb.length, 0);
    return this.adjacent.reduce((sum, nb, s) => sum + (nb.length / totalDegree) * best[s], 0);
  }

  /** Walks `steps` steps from the current node and returns the nodes reached, in order. */
  walk(steps: number): number[] {
    checkInteger('steps', steps, 0);
    const out: number[] = [];
    for (let i = 0; i < steps; i++) {
      this.node = this.rng.pick(this.adjacent[this.node]);
      out.push(this.node);
    }
    this.stepCount += steps;
    return out;
  }

  /** The next episode: the current node, then `config.stepsPerEpisode` steps of the walk. */
  nextEpisode(): GraphEpisode {
    const from = this.node;
    return { nodes: [from, ...this.walk(this.config.stepsPerEpisode)] };
  }

  /** The next `count` episodes, each continuing where the previous one ended. */
  episodes(count: number): GraphEpisode[] {
    checkInteger('episodes', count, 0);
    return Array.from({ length: count }, () => this.nextEpisode());
  }
}

function buildNeighbours(communities: number, size: number): number[][] {
  const n = communities * size;
  const neighbours: number[][] = Array.from({ length: n }, () => []);
  const link = (a: number, b: number) => {
    neighbours[a].push(b);
    neighbours[b].push(a);
  };
  for (let k = 0; k < communities; k++) {
    const base = k * size;
    for (let i = 0; i < size; i++) {
      for (let j = i + 1; j < size; j++) {
        if (!(i === 0 && j === size - 1)) link(base + i, base + j);
      }
    }
    // The last member of community k links to the first member of community k + 1 (around the ring).
    link(base + size - 1, ((k + 1) % communities) * size);
  }
  return neighbours.map((nb) => nb.sort((a, b) => a - b));
}

/** The tabular size of a graph walk: one state per node and a single action ("move on"). */
export function graphSpec(config: Pick<GraphConfig, 'communities' | 'communitySize'>): TabularSpec {
  return { nStates: config.communities * config.communitySize, nActions: 1 };
}

/**
 * An episode as the transitions a successor-representation learner sees: each
 * step from one node to the next, action 0, no reward. The walk never ends, so
 * every transition has a next state.
 */
export function graphTransitions(episode: GraphEpisode): Transition[] {
  return episode.nodes.slice(1).map((next, i) => ({ state: episode.nodes[i], action: 0, reward: 0, nextState: next }));
}
