import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gridTranscript } from '../../../src/core/prompts';
import { shuffleGridRewards } from '../../../src/core/envs/gridWorld';
import { ConfigError } from '../../../src/core/config';
import { assertSpansExact, gridExperiment } from './fixtures';

const LINE = /^([a-e])([1-5]) (up|down|left|right) (-?[\d.]+)$/;

/** The step lines of a transcript's body, each with the episode it belongs to (from the "Episode N:" headers). */
function parseBody(text: string): { episode: number; m: RegExpExecArray }[] {
  let episode = 0;
  const out: { episode: number; m: RegExpExecArray }[] = [];
  for (const line of text.split('\n\n')[1].trimEnd().split('\n')) {
    const header = /^Episode (\d+):$/.exec(line);
    if (header) {
      episode = Number(header[1]);
      continue;
    }
    const m = LINE.exec(line);
    assert.ok(m, line);
    out.push({ episode, m });
  }
  return out;
}

test('every step is a prediction span on its action word', () => {
  const { world, episodes } = gridExperiment(1, 15);
  const t = gridTranscript(world.config, episodes);
  assert.equal(t.task, 'grid');
  assertSpansExact(t);
  const steps = episodes.flatMap((e, i) => e.steps.map((s, j) => ({ ...s, episode: i, step: j })));
  assert.equal(t.spans.length, steps.length);
  t.spans.forEach((span, k) => {
    assert.equal(span.kind, 'prediction');
    assert.deepEqual(span.allowed, ['up', 'down', 'left', 'right']);
    assert.equal(span.allowed.indexOf(span.answer), steps[k].action);
    assert.equal(span.episode, steps[k].episode);
    assert.equal(span.step, steps[k].step);
  });
});

test('the text reads back as the steps it was written from', () => {
  const { world, episodes } = gridExperiment(2, 10, { walls: [7, 12], stepCost: 0.05 });
  const { text } = gridTranscript(world.config, episodes);
  const [instruction, body] = text.split('\n\n');
  assert.match(instruction, /5 x 5 grid/);
  assert.match(instruction, /Walls block the cells c2, c3\./);
  assert.match(instruction, /after 10 steps; the next episode starts again at a1\./);
  const steps = episodes.flatMap((e, i) => e.steps.map((s) => ({ ...s, episode: i })));
  const lines = parseBody(text);
  assert.equal(lines.length, steps.length);
  assert.equal(body.split('\n').filter((l) => l.startsWith('Episode ')).length, episodes.length);
  lines.forEach(({ episode, m }, k) => {
    const s = steps[k];
    assert.equal(episode, s.episode + 1);
    assert.equal((Number(m[2]) - 1) * 5 + (m[1].charCodeAt(0) - 97), s.cell);
    assert.equal(['up', 'down', 'left', 'right'].indexOf(m[3]), s.action);
    assert.ok(Math.abs(Number(m[4]) - s.reward) < 1e-9, `${m[4]} vs ${s.reward}`);
  });
});

test('a transcript of the first episodes is a prefix of the transcript of all', () => {
  const { world, episodes } = gridExperiment(3, 12);
  const full = gridTranscript(world.config, episodes);
  const part = gridTranscript(world.config, episodes.slice(0, 5));
  assert.ok(full.text.startsWith(part.text));
  assert.deepEqual(full.spans.slice(0, part.spans.length), part.spans);
});

test('the same seed gives byte-identical transcripts, another seed a different one', () => {
  const make = (seed: number) => {
    const { world, episodes } = gridExperiment(seed, 10);
    return JSON.stringify(gridTranscript(world.config, episodes, { rewards: 'shuffled', shuffleSeed: seed }));
  };
  assert.equal(make(4), make(4));
  assert.notEqual(make(5), make(4));
});

test('the shuffled-rewards condition shows permuted rewards on the same steps', () => {
  const { world, episodes } = gridExperiment(6, 30, { rewards: [{ cell: 6, reward: 1 }, { cell: 13, reward: 3 }] });
  const real = gridTranscript(world.config, episodes);
  const shuffled = gridTranscript(world.config, episodes, { rewards: 'shuffled', shuffleSeed: 11 });
  assertSpansExact(shuffled);
  assert.deepEqual(shuffled.meta, { rewards: 'shuffled', shuffleSeed: 11, actionWords: ['up', 'down', 'left', 'right'] });
  const a = parseBody(real.text);
  const b = parseBody(shuffled.text);
  const places = (ls: { episode: number; m: RegExpExecArray }[]) => ls.map(({ episode, m }) => [episode, ...m.slice(1, 4)]);
  assert.deepEqual(places(b), places(a), 'episodes, cells and actions unchanged');
  const rewards = (ls: { m: RegExpExecArray }[]) => ls.map(({ m }) => Number(m[4]));
  assert.notDeepEqual(rewards(b), rewards(a));
  assert.deepEqual([...rewards(b)].sort(), [...rewards(a)].sort());
  assert.ok(rewards(a).filter((r) => r > 0).length >= 3, 'the experiment should contain rewards to shuffle');
  assert.deepEqual(rewards(b), shuffleGridRewards(episodes, 11).flatMap((e) => e.steps.map((s) => s.reward)));
  assert.deepEqual(shuffled.spans.map((s) => s.answer), real.spans.map((s) => s.answer));
});

test('prompt options are checked', () => {
  const { world, episodes } = gridExperiment(7, 2);
  const field = (name: string) => (e: unknown) => e instanceof ConfigError && e.field === name;
  assert.throws(() => gridTranscript(world.config, episodes, { rewards: 'shuffled' }), field('gridPrompt.shuffleSeed'));
  assert.throws(() => gridTranscript(world.config, episodes, { shuffleSeed: 3 }), field('gridPrompt.shuffleSeed'));
  assert.throws(() => gridTranscript(world.config, episodes, { rewards: 'random' as never }), field('gridPrompt.rewards'));
  assert.throws(() => gridTranscript(world.config, episodes, { actionWords: ['up', 'upward', 'left', 'right'] }), field('gridPrompt.actionWords[0]'));
  const t = gridTranscript(world.config, episodes, { actionWords: ['north', 'south', 'west', 'east'] });
  assertSpansExact(t);
  assert.match(t.text, /goes north, south, west or east;/);
});
