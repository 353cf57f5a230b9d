import type { GraphEpisode } from '../envs/communityGraph';
import { TranscriptBuilder, type Transcript } from './transcript';

/**
 * A community-graph walk as the model watches it. Template:
 *
 *     You will see a sequence of objects. ... (the instruction)
 *
 *     apple -> chair -> lamp -> chair -> ...
 *     kettle -> sofa -> ...
 *
 * One line per episode. A line begins with the node the previous line ended on
 * (context, not an answer); every later node is an answer (kind 'prediction',
 * allowed all node names in node order), so each step of the walk is predicted
 * exactly once.
 */
export interface GraphTranscriptMeta {
  /** Node names in node order: `names.indexOf(answer)` is the node. */
  names: string[];
}

export const GRAPH_INSTRUCTION =
  'You will see a sequence of objects. Each object is followed by one of the objects linked to it, chosen at random. ' +
  'Each line continues the sequence from the last object of the line before.\n\n';

export function graphTranscript(names: readonly string[], episodes: readonly GraphEpisode[]): Transcript<GraphTranscriptMeta> {
  const b = new TranscriptBuilder().text(GRAPH_INSTRUCTION);
  episodes.forEach((ep, e) => {
    if (ep.nodes.length < 2) throw new RangeError(`graph transcript: episode ${e} has ${ep.nodes.length} nodes; it needs a start and at least one step`);
    const previous = episodes[e - 1]?.nodes;
    if (previous !== undefined && previous[previous.length - 1] !== ep.nodes[0]) {
      throw new RangeError(`graph transcript: episode ${e} starts at node ${ep.nodes[0]}, not where episode ${e - 1} ended (${previous[previous.length - 1]})`);
    }
    b.text(nameOf(names, ep.nodes[0]));
    ep.nodes.slice(1).forEach((node, t) => {
      b.text(' -> ');
      b.answer(nameOf(names, node), names, { episode: e, step: t, kind: 'prediction' });
    });
    b.text('\n');
  });
  return b.build('graph', { names: [...names] });
}

function nameOf(names: readonly string[], node: number): string {
  const name = names[node];
  if (name === undefined) throw new RangeError(`graph transcript: node ${node} has no name (${names.length} names)`);
  return name;
}
