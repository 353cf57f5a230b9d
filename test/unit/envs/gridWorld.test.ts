import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GRID_SPEC,
  gridDistances,
  gridTransitions,
  GridWorld,
  moveCell,
  shuffleGridRewards,
  type GridEpisode,
} from '../../../src/core/envs/gridWorld';
import { ConfigError } from '../../../src/core/config';
import { Rng } from '../../../src/core/random';

const UP = 0;
const DOWN = 1;
const LEFT = 2;
const RIGHT = 3;

function configError(field: string, allowed: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.field, field);
    assert.match(e.allowed, allowed);
    assert.ok(e.message.startsWith(`${field} = `), e.message);
    return true;
  };
}

test('moves stay on the grid and out of walls', () => {
  const c = { size: 5, walls: [7] };
  assert.equal(moveCell(c, 0, UP), 0);
  assert.equal(moveCell(c, 0, LEFT), 0);
  assert.equal(moveCell(c, 0, RIGHT), 1);
  assert.equal(moveCell(c, 0, DOWN), 5);
  assert.equal(moveCell(c, 24, DOWN), 24);
  assert.equal(moveCell(c, 24, RIGHT), 24);
  assert.equal(moveCell(c, 4, RIGHT), 4, 'no wrapping to the next row');
  assert.equal(moveCell(c, 6, RIGHT), 6, 'a wall blocks');
  assert.equal(moveCell(c, 12, UP), 12, 'a wall blocks');
  assert.equal(moveCell(c, 12, LEFT), 11);
  assert.deepEqual(GRID_SPEC, { nStates: 25, nActions: 4 });
});

test('shortest paths equal Manhattan distances in an open grid and detour around walls', () => {
  const open = gridDistances({ size: 5, walls: [] }, 7);
  for (let cell = 0; cell < 25; cell++) {
    assert.equal(open[cell], Math.abs(Math.floor(cell / 5) - 1) + Math.abs((cell % 5) - 2));
  }
  // A wall across row 1 except its last column: from (0,0) to (2,0) the path goes round by column 4.
  const walled = gridDistances({ size: 5, walls: [5, 6, 7, 8] }, 0);
  assert.equal(walled[10], 4 + 2 + 4);
  assert.equal(walled[5], Infinity);
});

test('an episode pays the goal, ends there and restarts at the start cell', () => {
  const world = GridWorld.create({ rewards: [{ cell: 2, reward: 1 }], stepCost: 0.1 }, 1);
  const first = world.step(RIGHT);
  assert.deepEqual(first, { cell: 0, action: RIGHT, nextCell: 1, reward: -0.1, terminal: false, done: false });
  const second = world.step(RIGHT);
  assert.equal(second.nextCell, 2);
  assert.ok(Math.abs(second.reward - 0.9) < 1e-12);
  assert.equal(second.terminal, true);
  assert.equal(second.done, true);
  assert.equal(world.cell, 0);
  assert.equal(world.episode, 1);
  assert.equal(world.stepInEpisode, 0);
  assert.equal(world.rewardAt(2), 1);
  assert.equal(world.rewardAt(3), 0);
});

test('the step limit ends an episode without making it terminal', () => {
  const world = GridWorld.create({ rewards: [{ cell: 2, reward: 1 }], maxSteps: 3 }, 1);
  const ep = world.runEpisode(() => UP);
  assert.equal(ep.steps.length, 3);
  assert.deepEqual(
    ep.steps.map((s) => [s.terminal, s.done]),
    [
      [false, false],
      [false, false],
      [false, true],
    ],
  );
  assert.deepEqual(gridTransitions(ep).at(-1), { state: 0, action: UP, reward: 0, nextState: 0 });
  assert.equal(world.episode, 1);
});

test('transitions of a terminal step have no next state', () => {
  const world = GridWorld.create({ rewards: [{ cell: 5, reward: 2 }] }, 1);
  const seen: number[] = [];
  const ep = world.runEpisode(
    () => DOWN,
    (s) => seen.push(s.nextCell),
  );
  assert.deepEqual(seen, [5]);
  assert.deepEqual(gridTransitions(ep), [{ state: 0, action: DOWN, reward: 2, nextState: null }]);
});

test('the default goal is drawn from the seed among reachable cells other than the start', () => {
  const goals = new Set<number>();
  for (let seed = 0; seed < 40; seed++) {
    const world = GridWorld.create({ start: 12 }, seed);
    assert.equal(world.config.rewards.length, 1);
    const { cell, reward } = world.config.rewards[0];
    assert.equal(reward, 1);
    assert.notEqual(cell, 12);
    assert.deepEqual(GridWorld.create({ start: 12 }, seed).config.rewards, world.config.rewards);
    goals.add(cell);
  }
  assert.ok(goals.size > 10, `only ${goals.size} distinct goals over 40 seeds`);
  // Walls that shut off the right half leave only the left part to draw from.
  for (let seed = 0; seed < 20; seed++) {
    const world = GridWorld.create({ walls: [2, 7, 12, 17, 22] }, seed);
    assert.ok(world.config.rewards[0].cell % 5 < 2, `goal ${world.config.rewards[0].cell}`);
  }
});

test('slips move in a random direction at the configured rate', () => {
  const world = GridWorld.create({ size: 7, start: 24, rewards: [{ cell: 10, reward: 1 }], slipProb: 0.4, maxSteps: 2 }, 9);
  const rng = Rng.fromSeed(2);
  let off = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const a = rng.int(0, 4);
    const s = world.step(a);
    if (s.nextCell !== moveCell(world.config, s.cell, a)) off++;
  }
  // A slip picks one of four directions, three of them not the chosen one: 0.4 * 3/4 = 0.3 (binomial sd 0.0032).
  assert.ok(Math.abs(off / n - 0.3) < 0.015, `off-course fraction ${off / n}`);
});

test('a world restored from JSON continues exactly like the original', () => {
  const a = GridWorld.create({ walls: [6, 13], slipProb: 0.3 }, 21);
  const policy = Rng.fromSeed(5);
  for (let i = 0; i < 7; i++) a.step(policy.int(0, 4));
  const b = GridWorld.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
  assert.deepEqual(b.toJSON(), a.toJSON());
  const run = (w: GridWorld) => {
    const p = Rng.fromSeed(8);
    return Array.from({ length: 5 }, () => w.runEpisode(() => p.int(0, 4)));
  };
  assert.deepEqual(run(b), run(a));
});

test('invalid grids name the field, the value and what is allowed', () => {
  const box = [1, 5, 6];
  assert.throws(() => GridWorld.create({ rewards: [{ cell: 24, reward: 1 }], walls: box }, 1), configError('grid.rewards[0].cell', /reachable from the start cell 0/));
  assert.throws(() => GridWorld.create({ rewards: [{ cell: 24, reward: 1 }], maxSteps: 5 }, 1), configError('grid.maxSteps', /at least 8/));
  assert.throws(() => GridWorld.create({ rewards: [{ cell: 6, reward: 1 }], walls: [6] }, 1), configError('grid.rewards[0].cell', /not a wall/));
  assert.throws(() => GridWorld.create({ rewards: [{ cell: 0, reward: 1 }] }, 1), configError('grid.rewards[0].cell', /other than the start/));
  assert.throws(() => GridWorld.create({ rewards: [{ cell: 25, reward: 1 }] }, 1), configError('grid.rewards[0].cell', /\[0, 24\]/));
  assert.throws(
    () => GridWorld.create({ rewards: [{ cell: 3, reward: 1 }, { cell: 3, reward: 2 }] }, 1),
    configError('grid.rewards[1].cell', /not already rewarded/),
  );
  assert.throws(() => GridWorld.create({ rewards: [] }, 1), configError('grid.rewards', /non-empty array/));
  assert.throws(() => GridWorld.create({ start: 3, walls: [3] }, 1), configError('grid.start', /not a wall/));
  assert.throws(() => GridWorld.create({ slipProb: 1.5 }, 1), configError('grid.slipProb', /probability in \[0, 1\]/));
  assert.throws(() => GridWorld.create({ maxSteps: 0 }, 1), configError('grid.maxSteps', /integer/));
  assert.throws(() => GridWorld.create({ walls: [0.5] }, 1), configError('grid.walls[0]', /integer/));
  assert.throws(() => GridWorld.create({ goal: 3 } as never, 1), configError('grid.goal', /known option/));
  // With every cell but the start walled off, no goal can be drawn.
  const allWalls = Array.from({ length: 24 }, (_, i) => i + 1);
  assert.throws(() => GridWorld.create({ walls: allWalls }, 1), configError('grid.walls', /reachable/));
  const world = GridWorld.create({}, 1);
  assert.throws(() => world.step(4), /action must be 0 \(up\)/);
});

test('the shuffled-rewards control permutes rewards across the experiment and keeps everything else', () => {
  const world = GridWorld.create({ rewards: [{ cell: 6, reward: 1 }, { cell: 18, reward: 5 }], maxSteps: 12 }, 3);
  const policy = Rng.fromSeed(4);
  const episodes: GridEpisode[] = Array.from({ length: 30 }, () => world.runEpisode(() => policy.int(0, 4)));
  const shuffled = shuffleGridRewards(episodes, 17);
  const rewards = (eps: GridEpisode[]) => eps.flatMap((e) => e.steps.map((s) => s.reward));
  assert.deepEqual([...rewards(shuffled)].sort(), [...rewards(episodes)].sort());
  assert.notDeepEqual(rewards(shuffled), rewards(episodes));
  assert.ok(rewards(episodes).filter((r) => r > 0).length >= 3, 'the experiment should contain rewards to shuffle');
  const strip = (eps: GridEpisode[]) => eps.map((e) => e.steps.map(({ reward: _, ...rest }) => rest));
  assert.deepEqual(strip(shuffled), strip(episodes));
  assert.deepEqual(shuffleGridRewards(episodes, 17), shuffled);
  assert.notDeepEqual(rewards(shuffleGridRewards(episodes, 18)), rewards(shuffled));
});
