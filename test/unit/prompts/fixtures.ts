import assert from 'node:assert/strict';
import { TwoStepTask, type TwoStepEpisode } from '../../../src/core/envs/twoStep';
import { GridWorld, type GridConfig, type GridEpisode } from '../../../src/core/envs/gridWorld';
import { CommunityGraph, type GraphEpisode } from '../../../src/core/envs/communityGraph';
import { Rng } from '../../../src/core/random';
import type { Transcript } from '../../../src/core/prompts';

/** Every span covers exactly its answer, the answer is allowed, and spans come in order without overlap. */
export function assertSpansExact(t: Transcript<unknown>): void {
  let end = 0;
  for (const s of t.spans) {
    assert.equal(t.text.slice(s.start, s.end), s.answer);
    assert.ok(s.allowed.includes(s.answer), `${s.answer} not in ${s.allowed}`);
    assert.ok(s.start >= end, 'spans overlap or are out of order');
    // An answer stands as its own word: a space before it, no letter right after it.
    assert.equal(t.text[s.start - 1], ' ');
    assert.doesNotMatch(t.text[s.end] ?? '', /[A-Za-z0-9]/);
    end = s.end;
  }
}

/** A two-step experiment played by a seeded random policy. */
export function twoStepExperiment(seed: number, episodes: number): TwoStepEpisode[] {
  const task = TwoStepTask.create({}, seed);
  const policy = Rng.fromSeed(seed + 1000);
  return Array.from({ length: episodes }, () => {
    task.chooseFirst(policy.int(0, 2));
    return task.chooseSecond(policy.int(0, 2));
  });
}

/** A grid experiment walked by a seeded random policy. */
export function gridExperiment(seed: number, episodes: number, config: Partial<GridConfig> = {}): { world: GridWorld; episodes: GridEpisode[] } {
  const world = GridWorld.create({ maxSteps: 10, ...config }, seed);
  const policy = Rng.fromSeed(seed + 1000);
  return { world, episodes: Array.from({ length: episodes }, () => world.runEpisode(() => policy.int(0, 4))) };
}

/** A stretch of a community-graph walk. */
export function graphExperiment(seed: number, episodes: number): { graph: CommunityGraph; episodes: GraphEpisode[] } {
  const graph = CommunityGraph.create({}, seed);
  return { graph, episodes: graph.episodes(episodes) };
}
