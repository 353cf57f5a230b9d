import { latentsOf } from '../agents/likelihood';
import { SUCCESSOR_REPRESENTATION, walkTransitions, type SuccessorLatents } from '../agents/successor';
import { checkInteger } from '../config';
import { CommunityGraph, type GraphConfig, type GraphEpisode } from '../envs/communityGraph';
import { graphTranscript } from '../prompts/graph';
import { Rng } from '../random';
import { EXPERIMENT_FORMAT, eachExperiment, type BatchOptions, type ExperimentRecord } from './experiment';
import { GRAPH_LEARNER, sampleParams, type ParamRanges } from './populations';

export type GraphRecord = ExperimentRecord<GraphEpisode, SuccessorLatents, GraphConfig & { words: string[] }>;

export interface GraphBatchOptions extends BatchOptions {
  config: Partial<GraphConfig>;
  /** Parameters of the SR-TD learner whose variables are recorded. */
  learner: ParamRanges;
}

export const GRAPH_BATCH_DEFAULTS: GraphBatchOptions = {
  experiments: 100,
  episodes: 30,
  seed: 0,
  config: {},
  learner: GRAPH_LEARNER,
};

/** Random walks on community graphs (node names drawn per experiment), with an SR-TD learner's variables at every step. */
export function graphRecords(options: Partial<GraphBatchOptions> = {}): Generator<GraphRecord, void, undefined> {
  const o = { ...GRAPH_BATCH_DEFAULTS, ...options };
  checkInteger('experiments', o.experiments, 1);
  checkInteger('episodes', o.episodes, 1);
  return eachExperiment(o, (index, seed) => {
    const rng = Rng.fromSeed(seed);
    const params = sampleParams(o.learner, rng);
    const graph = CommunityGraph.create(o.config, rng.int(0, 0x7fffffff));
    const episodes = graph.episodes(o.episodes);
    const walk = [episodes[0].nodes[0], ...episodes.flatMap((e) => e.nodes.slice(1))];
    const transitions = walkTransitions(walk);
    const spec = { nStates: graph.size, nActions: graph.size };
    const [latents] = latentsOf(SUCCESSOR_REPRESENTATION, params, { spec, experiments: [{ transitions }] });
    return {
      format: EXPERIMENT_FORMAT,
      task: 'graph',
      index,
      seed,
      agent: { model: SUCCESSOR_REPRESENTATION.name, params },
      env: { ...graph.config, words: [...graph.names] },
      episodes,
      transitions,
      scored: transitions.map(() => true),
      transcript: graphTranscript(graph.names, episodes),
      latents,
    };
  });
}

/** All of graphRecords' experiments at once. */
export function graphBatch(options: Partial<GraphBatchOptions> = {}): GraphRecord[] {
  return [...graphRecords(options)];
}

/**
 * The graph a recorded walk went over. Its links follow from the record's
 * configuration alone and its names are the record's words, so this is the
 * walk's graph whatever seed rebuilds it (the seed only draws the start node).
 */
export function recordGraph(r: GraphRecord): CommunityGraph {
  return CommunityGraph.create(r.env, r.seed);
}

/** The best possible next-node accuracy on a recorded walk: max_j P(s, j) averaged over the steps it took. */
export function walkCeiling(r: GraphRecord): number {
  return recordGraph(r).ceilingAccuracy(r.transitions.map((t) => t.state));
}
