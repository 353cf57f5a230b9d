import { checkInteger, checkKnownKeys, checkNumber, checkProbability, ConfigError } from '../config';
import { Rng, type RngState } from '../random';
import type { TabularSpec, Transition } from './types';

/**
 * A square grid world. Cells are indexed `row * size + column` from the top-left
 * corner; actions 0..3 move up, down, left and right. Moving off the grid or into
 * a wall leaves the agent where it is. Stepping onto a rewarded cell pays that
 * cell's reward and ends the episode; so does the step limit. A new episode then
 * begins at the start cell.
 */
export interface GridConfig {
  /** Side length of the grid: `size * size` cells. */
  size: number;
  /** Where every episode begins. */
  start: number;
  /** Blocked cells: the agent can never stand on them. */
  walls: number[];
  /**
   * Rewarded (and terminal) cells with their reward. null draws one cell with
   * reward 1 from the seed, uniformly among the cells other than the start that
   * the agent can reach within the step limit, so experiments differ in where
   * the reward lies and the reader must learn it in context.
   */
  rewards: GridReward[] | null;
  /** Steps after which an episode ends even if no reward was reached. */
  maxSteps: number;
  /** Subtracted from the reward of every step (0: only rewarded cells pay). */
  stepCost: number;
  /** Probability that a step moves in a uniformly random direction (possibly the chosen one) instead of the chosen one. */
  slipProb: number;
}

export interface GridReward {
  cell: number;
  reward: number;
}

export const GRID_DEFAULTS: GridConfig = {
  size: 5,
  start: 0,
  walls: [],
  rewards: null,
  maxSteps: 20,
  stepCost: 0,
  slipProb: 0,
};

/** The words the actions are named by, in action order. */
export const GRID_ACTIONS = ['up', 'down', 'left', 'right'] as const;

const MOVES: readonly (readonly [number, number])[] = [
  [-1, 0],
  [1, 0],
  [0, -1],
  [0, 1],
];

/** The tabular size of a grid: one state per cell (walls included, never visited), four actions. */
export function gridSpec(config: Pick<GridConfig, 'size'>): TabularSpec {
  return { nStates: config.size * config.size, nActions: GRID_ACTIONS.length };
}

/** The tabular size of the default 5 x 5 grid. */
export const GRID_SPEC: TabularSpec = gridSpec(GRID_DEFAULTS);

/** [row, column] of a cell. */
export function cellCoords(cell: number, size: number): [number, number] {
  return [Math.floor(cell / size), cell % size];
}

/** Where an action leads from a cell, ignoring slips: off-grid and wall moves stay put. */
export function moveCell(config: Pick<GridConfig, 'size' | 'walls'>, cell: number, action: number): number {
  const [r, c] = cellCoords(cell, config.size);
  const [dr, dc] = MOVES[action];
  const nr = r + dr;
  const nc = c + dc;
  if (nr < 0 || nr >= config.size || nc < 0 || nc >= config.size) return cell;
  const next = nr * config.size + nc;
  return config.walls.includes(next) ? cell : next;
}

/** Shortest number of steps from `from` to every cell around the walls (Infinity where unreachable). */
export function gridDistances(config: Pick<GridConfig, 'size' | 'walls'>, from: number): number[] {
  const dist = new Array<number>(config.size * config.size).fill(Infinity);
  dist[from] = 0;
  const queue = [from];
  for (let i = 0; i < queue.length; i++) {
    const cell = queue[i];
    for (let a = 0; a < MOVES.length; a++) {
      const next = moveCell(config, cell, a);
      if (dist[next] === Infinity) {
        dist[next] = dist[cell] + 1;
        queue.push(next);
      }
    }
  }
  return dist;
}

/**
 * Validates a grid configuration. Rewards left null stay null here; they are
 * drawn when a world is created.
 */
export function gridConfig(partial: Partial<GridConfig> = {}): GridConfig {
  checkKnownKeys('grid', partial, Object.keys(GRID_DEFAULTS));
  const c = { ...GRID_DEFAULTS, ...partial };
  checkInteger('grid.size', c.size, 2, 20);
  const nCells = c.size * c.size;
  const cellRange = `a cell index in [0, ${nCells - 1}] (row * ${c.size} + column)`;
  checkInteger('grid.start', c.start, 0, nCells - 1);
  if (!Array.isArray(c.walls)) throw new ConfigError('grid.walls', c.walls, `an array of cell indices`);
  c.walls.forEach((w, i) => {
    checkInteger(`grid.walls[${i}]`, w, 0, nCells - 1);
    if (c.walls.indexOf(w) !== i) throw new ConfigError(`grid.walls[${i}]`, w, 'a cell not already listed as a wall');
  });
  if (c.walls.includes(c.start)) throw new ConfigError('grid.start', c.start, `${cellRange} that is not a wall`);
  checkInteger('grid.maxSteps', c.maxSteps, 1, 10_000);
  checkNumber('grid.stepCost', c.stepCost, 0, Infinity);
  checkProbability('grid.slipProb', c.slipProb);
  if (c.rewards === null) return { ...c, walls: [...c.walls] };
  const rewards = c.rewards;
  if (!Array.isArray(rewards) || rewards.length === 0) {
    throw new ConfigError('grid.rewards', rewards, 'null (one goal drawn from the seed) or a non-empty array of {cell, reward}');
  }
  const dist = gridDistances(c, c.start);
  rewards.forEach((r, i) => {
    const field = `grid.rewards[${i}]`;
    if (typeof r !== 'object' || r === null) throw new ConfigError(field, r, 'an object {cell, reward}');
    checkKnownKeys(field, r, ['cell', 'reward']);
    checkInteger(`${field}.cell`, r.cell, 0, nCells - 1);
    checkNumber(`${field}.reward`, r.reward);
    if (rewards.findIndex((o) => o.cell === r.cell) !== i) {
      throw new ConfigError(`${field}.cell`, r.cell, 'a cell not already rewarded');
    }
    if (c.walls.includes(r.cell)) throw new ConfigError(`${field}.cell`, r.cell, `${cellRange} that is not a wall`);
    if (r.cell === c.start) throw new ConfigError(`${field}.cell`, r.cell, `a cell other than the start cell ${c.start}`);
    if (dist[r.cell] === Infinity) {
      throw new ConfigError(`${field}.cell`, r.cell, `a cell reachable from the start cell ${c.start} around the walls`);
    }
    if (dist[r.cell] > c.maxSteps) {
      throw new ConfigError('grid.maxSteps', c.maxSteps, `at least ${dist[r.cell]}, the shortest path from the start to rewarded cell ${r.cell}`);
    }
  });
  return { ...c, walls: [...c.walls], rewards: rewards.map((r) => ({ cell: r.cell, reward: r.reward })) };
}

/** One step: where the agent was, what it chose, where it landed and what it got. */
export interface GridStep {
  cell: number;
  action: number;
  nextCell: number;
  reward: number;
  /** The episode ended on a rewarded cell: nothing follows, a learner does not bootstrap. */
  terminal: boolean;
  /** The episode is over (terminal, or the step limit was reached); the agent is back at the start. */
  done: boolean;
}

/** One episode: its steps from the start cell to a rewarded cell or the step limit. */
export interface GridEpisode {
  steps: GridStep[];
}

export interface GridJSON {
  kind: 'grid';
  /** The configuration with its rewards resolved. */
  config: GridConfig & { rewards: GridReward[] };
  cell: number;
  stepInEpisode: number;
  episode: number;
  rng: RngState;
}

/** An interactive grid world: call {@link step} with each action, or {@link runEpisode} with a policy. */
export class GridWorld {
  private constructor(
    readonly config: GridConfig & { rewards: GridReward[] },
    private position: number,
    private stepIndex: number,
    private episodeIndex: number,
    private readonly rng: Rng,
  ) {}

  static create(config: Partial<GridConfig>, seed: number): GridWorld {
    const c = gridConfig(config);
    const rng = Rng.fromSeed(seed);
    const rewards = c.rewards ?? [{ cell: drawGoal(c, rng), reward: 1 }];
    return new GridWorld({ ...c, rewards }, c.start, 0, 0, rng);
  }

  static fromJSON(json: GridJSON): GridWorld {
    const c = gridConfig(json.config);
    if (c.rewards === null) throw new ConfigError('grid.rewards', null, 'the resolved rewards of a saved world');
    checkInteger('grid.cell', json.cell, 0, c.size * c.size - 1);
    checkInteger('grid.stepInEpisode', json.stepInEpisode, 0, c.maxSteps - 1);
    checkInteger('grid.episode', json.episode, 0);
    return new GridWorld({ ...c, rewards: c.rewards }, json.cell, json.stepInEpisode, json.episode, Rng.fromState(json.rng));
  }

  toJSON(): GridJSON {
    return {
      kind: 'grid',
      config: { ...this.config, walls: [...this.config.walls], rewards: this.config.rewards.map((r) => ({ ...r })) },
      cell: this.position,
      stepInEpisode: this.stepIndex,
      episode: this.episodeIndex,
      rng: this.rng.toJSON(),
    };
  }

  /** The agent's cell now. */
  get cell(): number {
    return this.position;
  }

  /** Steps taken so far in the current episode. */
  get stepInEpisode(): number {
    return this.stepIndex;
  }

  /** Episodes completed so far. */
  get episode(): number {
    return this.episodeIndex;
  }

  /** The reward a cell pays on arrival (0 for cells that are not rewarded). */
  rewardAt(cell: number): number {
    return this.config.rewards.find((r) => r.cell === cell)?.reward ?? 0;
  }

  step(action: number): GridStep {
    if (!Number.isInteger(action) || action < 0 || action >= GRID_ACTIONS.length) {
      throw new RangeError(`grid world: action must be 0 (up), 1 (down), 2 (left) or 3 (right), got ${action}`);
    }
    const { slipProb, stepCost, maxSteps, start } = this.config;
    // No draw when slips are off, so the stream (and saved states) do not depend on it.
    const moved = slipProb > 0 && this.rng.bernoulli(slipProb) ? this.rng.int(0, GRID_ACTIONS.length) : action;
    const cell = this.position;
    const nextCell = moveCell(this.config, cell, moved);
    const terminal = this.config.rewards.some((r) => r.cell === nextCell);
    const reward = this.rewardAt(nextCell) - stepCost;
    this.stepIndex++;
    const done = terminal || this.stepIndex >= maxSteps;
    if (done) {
      this.position = start;
      this.stepIndex = 0;
      this.episodeIndex++;
    } else {
      this.position = nextCell;
    }
    return { cell, action, nextCell, reward, terminal, done };
  }

  /**
   * Steps until the current episode ends. `act` chooses the action in a cell;
   * `observe`, if given, sees every step as it happens (a learner updates there).
   */
  runEpisode(act: (cell: number) => number, observe?: (step: GridStep) => void): GridEpisode {
    const steps: GridStep[] = [];
    for (;;) {
      const s = this.step(act(this.position));
      steps.push(s);
      observe?.(s);
      if (s.done) return { steps };
    }
  }
}

function drawGoal(c: GridConfig, rng: Rng): number {
  const dist = gridDistances(c, c.start);
  const candidates = dist.flatMap((d, cell) => (cell !== c.start && d <= c.maxSteps ? [cell] : []));
  if (candidates.length === 0) {
    throw new ConfigError('grid.walls', c.walls, `walls that leave some cell reachable from the start cell ${c.start}`);
  }
  return rng.pick(candidates);
}

/**
 * An episode as a tabular learner sees it. A step that ends on a rewarded cell
 * has no next state; a step cut by the step limit keeps its next cell, since
 * the limit is not part of the task a learner should value.
 */
export function gridTransitions(episode: GridEpisode): Transition[] {
  return episode.steps.map(gridStepTransition);
}

/** One step as a tabular learner sees it (see {@link gridTransitions}). */
export function gridStepTransition(s: GridStep): Transition {
  return { state: s.cell, action: s.action, reward: s.reward, nextState: s.terminal ? null : s.nextCell };
}

/**
 * The shuffled-rewards control condition. The rewards of all steps of all the
 * given episodes (one experiment) are put in a uniformly random order drawn
 * from `seed` and handed back to the steps in sequence. Cells, actions and where
 * episodes end are unchanged, and so is the multiset of rewards; only which step
 * shows which reward changes, so the rewards no longer follow the rewarded cells.
 */
export function shuffleGridRewards(episodes: readonly GridEpisode[], seed: number): GridEpisode[] {
  const rewards = Rng.fromSeed(seed).shuffle(episodes.flatMap((e) => e.steps.map((s) => s.reward)));
  let k = 0;
  return episodes.map((e) => ({ steps: e.steps.map((s) => ({ ...s, reward: rewards[k++] })) }));
}
