import type { GraphEpisode } from '../envs/communityGraph';
import { graphTranscript } from './graph';
import type { Transcript } from './transcript';

/**
 * A recall check: a list of distinct object names said twice over, written by
 * {@link graphTranscript} as a walk over the pool's names: the graph's
 * instruction (whose words any model that reads graph walks knows), then lines
 * of ten steps, each line starting from the last name of the line before. It is
 * a walk on a ring, where each name is always followed
 * by the same name, so on the second telling the next name is certain to a
 * model that looks back to where the current name came before and reads what
 * followed it: the lookup a model needs to learn a graph in context. Template:
 *
 *     You will see a sequence of objects. ... (the graph's instruction)
 *
 *     apple -> chair -> lamp -> ... (ten steps)
 *     kettle -> sofa -> ...
 *
 * Every name after the first of a line is an answer (kind 'prediction', allowed
 * `pool`, the names a model could guess from). `episode` is 1 where the
 * current name has been seen before, followed by the answer (the second
 * telling after its first name), and 0 elsewhere, where nothing in the text
 * says what comes.
 */
export interface RecallTranscriptMeta {
  list: string[];
}

export const RECALL_STEPS_PER_LINE = 10;

export function recallTranscript(list: readonly string[], pool: readonly string[]): Transcript<RecallTranscriptMeta> {
  if (list.length < 2) throw new RangeError(`recall transcript: the list has ${list.length} names; it needs at least two`);
  if (new Set(list).size !== list.length) throw new RangeError('recall transcript: the list repeats a name, so what follows it is not certain; give distinct names');
  const missing = list.find((name) => !pool.includes(name));
  if (missing !== undefined) throw new RangeError(`recall transcript: '${missing}' is not one of the ${pool.length} names of the pool`);
  // The chain as a walk over the pool's nodes, cut into lines as the graph's walks are.
  const chain = [...list, ...list].map((name) => pool.indexOf(name));
  const episodes: GraphEpisode[] = [];
  for (let s = 0; s < chain.length - 1; s += RECALL_STEPS_PER_LINE) episodes.push({ nodes: chain.slice(s, s + RECALL_STEPS_PER_LINE + 1) });
  const walk = graphTranscript(pool, episodes);
  // Answer k is chain[k + 1]; from answer list.length on, the name before it came earlier.
  const spans = walk.spans.map((span, k) => {
    const second = k >= list.length;
    return { ...span, episode: second ? 1 : 0, step: second ? k - list.length : k };
  });
  return { ...walk, spans, meta: { list: [...list] } };
}
