import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRAPH_INSTRUCTION, graphTranscript } from '../../../src/core/prompts';
import { assertSpansExact, graphExperiment } from './fixtures';

test('every node after the first of a line is a prediction span over all node names', () => {
  const { graph, episodes } = graphExperiment(1, 30);
  const t = graphTranscript(graph.names, episodes);
  assert.equal(t.task, 'graph');
  assertSpansExact(t);
  assert.equal(t.spans.length, 30 * graph.config.stepsPerEpisode);
  t.spans.forEach((s, k) => {
    assert.equal(s.kind, 'prediction');
    assert.deepEqual(s.allowed, graph.names);
    assert.equal(s.episode, Math.floor(k / 10));
    assert.equal(s.step, k % 10);
    assert.equal(graph.names.indexOf(s.answer), episodes[s.episode].nodes[s.step + 1]);
  });
  assert.deepEqual(t.meta.names, graph.names);
});

test('the text reads back as the walk', () => {
  const { graph, episodes } = graphExperiment(2, 8);
  const { text } = graphTranscript(graph.names, episodes);
  assert.ok(text.startsWith(GRAPH_INSTRUCTION));
  const lines = text.slice(GRAPH_INSTRUCTION.length).trimEnd().split('\n');
  assert.deepEqual(
    lines.map((l) => l.split(' -> ').map((w) => graph.names.indexOf(w))),
    episodes.map((e) => e.nodes),
  );
});

test('a transcript of the first episodes is a prefix of the transcript of all', () => {
  const { graph, episodes } = graphExperiment(3, 10);
  const full = graphTranscript(graph.names, episodes);
  const part = graphTranscript(graph.names, episodes.slice(0, 4));
  assert.ok(full.text.startsWith(part.text));
  assert.deepEqual(full.spans.slice(0, part.spans.length), part.spans);
});

test('the same seed gives byte-identical transcripts, another seed a different one', () => {
  const make = (seed: number) => {
    const { graph, episodes } = graphExperiment(seed, 10);
    return JSON.stringify(graphTranscript(graph.names, episodes));
  };
  assert.equal(make(4), make(4));
  assert.notEqual(make(5), make(4));
});

test('episodes that do not continue one walk are refused', () => {
  const { graph, episodes } = graphExperiment(5, 2);
  const broken = [episodes[0], { nodes: [(episodes[1].nodes[0] + 1) % 15, ...episodes[1].nodes.slice(1)] }];
  assert.throws(() => graphTranscript(graph.names, broken), /episode 1 starts at node \d+, not where episode 0 ended/);
  assert.throws(() => graphTranscript(graph.names, [{ nodes: [3] }]), /needs a start and at least one step/);
});
