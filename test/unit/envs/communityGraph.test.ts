import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommunityGraph, graphSpec, graphTransitions, GRAPH_DEFAULTS } from '../../../src/core/envs/communityGraph';
import { OBJECT_WORDS } from '../../../src/core/envs/words';
import { ConfigError } from '../../../src/core/config';

test('the default graph is Schapiro et al.\'s: 15 nodes, 3 communities of 5, every node of degree 4', () => {
  const g = CommunityGraph.create({}, 1);
  const A = g.adjacency();
  assert.equal(g.size, 15);
  assert.deepEqual(graphSpec(GRAPH_DEFAULTS), { nStates: 15, nActions: 1 });
  for (let i = 0; i < 15; i++) {
    assert.equal(A[i][i], 0);
    assert.equal(A[i].reduce((s, x) => s + x, 0), 4, `degree of node ${i}`);
    for (let j = 0; j < 15; j++) assert.equal(A[i][j], A[j][i]);
    assert.deepEqual(g.neighbours(i), A[i].flatMap((x, j) => (x ? [j] : [])));
  }
  const communities = Array.from({ length: 15 }, (_, i) => g.community(i));
  assert.deepEqual([...new Set(communities)], [0, 1, 2]);
  const edges: [number, number][] = [];
  for (let i = 0; i < 15; i++) for (let j = i + 1; j < 15; j++) if (A[i][j]) edges.push([i, j]);
  const between = edges.filter(([i, j]) => communities[i] !== communities[j]);
  // 10 pairs per community less the boundary pair, and one bridge between each pair of neighbouring communities.
  assert.equal(edges.length - between.length, 3 * 9);
  assert.equal(between.length, 3);
  assert.deepEqual(
    between.map(([i, j]) => [communities[i], communities[j]].sort().join('-')).sort(),
    ['0-1', '0-2', '1-2'],
  );
  // Each community has exactly two boundary nodes, the ends of its two bridges, and they are not linked.
  for (let k = 0; k < 3; k++) {
    const boundary = between.flat().filter((n) => communities[n] === k);
    assert.equal(new Set(boundary).size, 2);
    assert.equal(A[boundary[0]][boundary[1]], 0);
  }
});

test('the transition matrix is the uniform walk over neighbours, and the walk follows it', () => {
  const g = CommunityGraph.create({}, 2);
  const P = g.transitionMatrix();
  const A = g.adjacency();
  P.forEach((row, i) => {
    assert.ok(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 1e-12);
    row.forEach((p, j) => assert.equal(p, A[i][j] / 4));
  });
  const counts = P.map((row) => row.map(() => 0));
  let prev = g.current;
  const walk = g.walk(60_000);
  for (const next of walk) {
    counts[prev][next]++;
    prev = next;
  }
  counts.forEach((row, i) => {
    const total = row.reduce((s, x) => s + x, 0);
    // About 4000 departures per node: a frequency's sd is under 0.007.
    row.forEach((c, j) => assert.ok(Math.abs(c / total - P[i][j]) < 0.035, `P[${i}][${j}] ${c / total}`));
  });
  assert.equal(g.steps, 60_000);
});

test('the ceiling accuracy is the mean best next-node probability', () => {
  const g = CommunityGraph.create({}, 3);
  assert.ok(Math.abs(g.ceilingAccuracy() - 0.25) < 1e-15);
  assert.ok(Math.abs(g.ceilingAccuracy(g.walk(50)) - 0.25) < 1e-15);
  // Always guessing the smallest neighbour is one of the best predictors: it scores the ceiling on a long walk.
  let hits = 0;
  let prev = g.current;
  const walk = g.walk(40_000);
  for (const next of walk) {
    if (next === g.neighbours(prev)[0]) hits++;
    prev = next;
  }
  assert.ok(Math.abs(hits / walk.length - 0.25) < 0.01, `accuracy ${hits / walk.length}`);
  assert.ok(Math.abs(CommunityGraph.create({ communities: 4, communitySize: 4 }, 1).ceilingAccuracy() - 1 / 3) < 1e-15);
});

test('episodes are consecutive stretches of one walk', () => {
  const g = CommunityGraph.create({ stepsPerEpisode: 7 }, 4);
  const start = g.current;
  const eps = g.episodes(5);
  assert.equal(eps[0].nodes[0], start);
  eps.forEach((ep, k) => {
    assert.equal(ep.nodes.length, 8);
    if (k > 0) assert.equal(ep.nodes[0], eps[k - 1].nodes[7]);
    const t = graphTransitions(ep);
    assert.equal(t.length, 7);
    t.forEach((tr, i) => {
      assert.deepEqual(tr, { state: ep.nodes[i], action: 0, reward: 0, nextState: ep.nodes[i + 1] });
      assert.ok(g.neighbours(tr.state).includes(tr.nextState!));
    });
  });
  assert.equal(g.current, eps[4].nodes[7]);
});

test('node names are drawn per seed from the object words, or given', () => {
  const a = CommunityGraph.create({}, 5);
  assert.equal(new Set(a.names).size, 15);
  a.names.forEach((n) => assert.ok(OBJECT_WORDS.includes(n)));
  assert.deepEqual(CommunityGraph.create({}, 5).names, a.names);
  assert.notDeepEqual(CommunityGraph.create({}, 6).names, a.names);
  const words = OBJECT_WORDS.slice(0, 6);
  assert.deepEqual(CommunityGraph.create({ communities: 2, communitySize: 3, words }, 1).names, words);
});

test('the object words are many, lowercase, distinct and prefix-free', () => {
  assert.ok(OBJECT_WORDS.length >= 60);
  for (const w of OBJECT_WORDS) {
    assert.match(w, /^[a-z]+$/);
    assert.deepEqual(
      OBJECT_WORDS.filter((o) => o.startsWith(w)),
      [w],
      `${w} is a prefix of another word or repeated`,
    );
  }
});

test('a graph restored from JSON continues exactly like the original', () => {
  const a = CommunityGraph.create({ communities: 4 }, 7);
  a.walk(13);
  const b = CommunityGraph.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
  assert.deepEqual(b.toJSON(), a.toJSON());
  assert.deepEqual(b.episodes(4), a.episodes(4));
});

test('invalid graphs name the field, the value and what is allowed', () => {
  const check = (field: string, allowed: RegExp) => (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.field, field);
    assert.match(e.allowed, allowed);
    return true;
  };
  assert.throws(() => CommunityGraph.create({ communities: 1 }, 1), check('graph.communities', /integer in \[2, 100\]/));
  assert.throws(() => CommunityGraph.create({ communitySize: 2 }, 1), check('graph.communitySize', /integer/));
  assert.throws(() => CommunityGraph.create({ communities: 20 }, 1), check('graph.communities', /at most \d+ nodes/));
  assert.throws(() => CommunityGraph.create({ words: ['apple'] }, 1), check('graph.words', /15 distinct lowercase words/));
  const words = OBJECT_WORDS.slice(0, 15);
  assert.throws(() => CommunityGraph.create({ words: [...words.slice(0, 14), 'Apple'] }, 1), check('graph.words[14]', /lowercase/));
  assert.throws(() => CommunityGraph.create({ words: [...words.slice(0, 14), 'applesauce'] }, 1), check('graph.words[0]', /none a prefix/));
  assert.throws(() => CommunityGraph.create({ stepsPerEpisode: 0 }, 1), check('graph.stepsPerEpisode', /integer/));
  assert.throws(() => CommunityGraph.create({ size: 3 } as never, 1), check('graph.size', /known option/));
});
