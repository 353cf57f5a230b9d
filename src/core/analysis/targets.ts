import type { QLatents } from '../agents/qLearning';
import type { SuccessorLatents } from '../agents/successor';
import type { TaskKind } from '../envs/types';
import { gatherRows as copyRows } from '../sae';

/**
 * Regression targets: the learner's variables at every answer point, as named
 * scalar columns aligned row by row with the residual-stream rows recorded there.
 *
 * Answer point i of an experiment is where the model chooses (two-step) or
 * predicts (grid, graph) the action of transition i. The text before it shows the
 * outcomes of transitions 0 .. i-1, so "the TD error" at i is that of transition
 * i-1, the newest outcome the model has read; values (Q, SR rows) are those held
 * before transition i is learned from. The first answer point of each experiment
 * has no earlier transition and is left out of the table for every column (a zero
 * there would be an invented value).
 */
export interface TargetTable {
  /** Column names, in order. */
  names: string[];
  /** columns[k][i]: target names[k] at row i. */
  columns: Float64Array[];
  /** The experiment of each row (its index in the latents given); the permutation null shuffles within these. */
  groups: Int32Array;
  /** The answer point of each row within its experiment. */
  steps: Int32Array;
  /** The activation-store row id of each row, when the caller gave them. */
  rows: Int32Array | null;
}

export interface TargetOptions {
  /**
   * Activation-store row ids, per experiment and answer point (a `Decision.row` or
   * `Prediction.row`); answer points whose id is null are left out.
   */
  rows?: readonly (readonly (number | null)[])[];
  /** Keeps only the answer points for which this is true (e.g. the model's own choices). */
  keep?: (experiment: number, step: number) => boolean;
}

/**
 * The suffix of a column less its mean over the experiments at the same answer
 * point (see {@link detrend}).
 */
export const DETRENDED = 'Detrended';

/** How a detrended column is described; `point` says what rows share an answer point. */
const detrendedText = (point: string) =>
  `less its mean over the experiments at the same answer point (${point}): what varies from experiment to experiment at one point of the task. ` +
  'The fitted values start at 0 and grow, so the raw column drifts over the task and a latent that only tracks the position in the text (a trip counter, a stage detector) follows it; ' +
  'such a latent cannot follow this one, which is uncorrelated with any function of the answer point';
const TWO_STEP_DETRENDED = detrendedText('the same trip and stage');
const GRID_DETRENDED = detrendedText('the same number of steps into the transcript');

/** The two-step columns' descriptions, pooled and (with the first-stage prefix) at the first-stage choices. */
const TWO_STEP_DESCRIPTIONS: Readonly<Record<string, string>> = {
  tdError: 'TD error of the previous transition (the newest outcome in the text): r + gamma max_a Q(s\u2032, a) - Q(s, a)',
  tdErrorCurrent: 'TD error of the transition being chosen, known only after the choice (a check: the model cannot know it yet)',
  qChosen: 'Q(s, a) of the action about to be taken, before learning from it',
  qDiff: 'Q(s, 1) - Q(s, 0) in the state being decided in',
  q0: 'Q(s, 0) in the state being decided in',
  q1: 'Q(s, 1) in the state being decided in',
  maxQ: 'max_a Q(s, a) in the state being decided in',
  tdErrorDetrended: `the TD error ${TWO_STEP_DETRENDED}`,
  qChosenDetrended: `Q(s, a) of the action about to be taken ${TWO_STEP_DETRENDED}`,
  qDiffDetrended: `Q(s, 1) - Q(s, 0) ${TWO_STEP_DETRENDED}`,
};

/** The prefix of the two-step columns taken at the first-stage choices alone (see {@link firstStageTargets}). */
export const FIRST_STAGE = 'firstStage.';

/** The prefix of the two-step columns taken at the reward tokens (see {@link rewardTokenTargets}). */
export const REWARD_TOKEN = 'rewardToken.';

/** The reward-token columns' descriptions (see {@link rewardTokenTargets}). */
const REWARD_TOKEN_DESCRIPTIONS: Readonly<Record<string, string>> = {
  tdError: 'TD error of the trip whose treasure count this token shows: r - Q(planet, alien), the reward prediction error, at the token where the model reads the reward',
  reward: 'the treasure the token shows (0 or 1): what a latent that only reads the token tracks, and most of the TD error\u2019s variance there. A control for tdError',
  tdOff:
    'the TD error less its mean over the reward tokens showing the same treasure: the part of the prediction error that is not the reward itself (minus the expectation Q(planet, alien)). Uncorrelated with any function of the reward, so a latent that only reads the token cannot track it',
  qChosen: 'Q(planet, alien) of the alien just asked, before learning from the reward: the expectation the TD error subtracts',
  tdErrorDetrended: `the TD error ${TWO_STEP_DETRENDED}`,
};

/**
 * What each target is, for the README's Method section and for tooltips. A name
 * ending in `[j]` stands for a family of columns, one per state j.
 */
export const TARGET_DESCRIPTIONS: Readonly<Record<TaskKind, Readonly<Record<string, string>>>> = {
  'two-step': {
    ...TWO_STEP_DESCRIPTIONS,
    ...Object.fromEntries(
      Object.entries(TWO_STEP_DESCRIPTIONS).map(([name, text]) => [
        `${FIRST_STAGE}${name}`,
        `${text}; at the first-stage choices alone, where the newest outcome is the last trip\u2019s reward (so the TD error is a reward prediction error) and the values are the two first-stage options\u2019`,
      ]),
    ),
    ...Object.fromEntries(Object.entries(REWARD_TOKEN_DESCRIPTIONS).map(([name, text]) => [`${REWARD_TOKEN}${name}`, text])),
  },
  grid: {
    tdError: 'TD error of the agent\u2019s previous step (the newest outcome in the text)',
    tdErrorCurrent: 'TD error of the step being predicted, known only after it (a check)',
    qChosen: 'Q(s, a) of the action the agent is about to take, before learning from it',
    qDiff: 'Q(s, a) of the action about to be taken minus the mean of Q(s, \u00b7) over the other actions',
    'q[j]': 'Q(s, j) of action j in the agent\u2019s current cell',
    maxQ: 'max_a Q(s, a) in the agent\u2019s current cell',
    tdErrorDetrended: `the TD error of the agent\u2019s previous step ${GRID_DETRENDED}`,
    qChosenDetrended: `Q(s, a) of the action about to be taken ${GRID_DETRENDED}`,
  },
  graph: {
    'sr[j]': 'M(s, j): the successor representation\u2019s row of the current node, before learning from the next step',
    'srTd[j]': 'component j of the SR TD error of the previous step, onehot(s) + gamma M(s\u2032, \u00b7) - M(s, \u00b7)',
    srNext: 'M(s, s\u2032): the SR entry of the node that comes next',
    'trans[j]': 'P(s, j): the walk\u2019s true probability of moving from the current node to node j',
    'srOff[j]':
      'M(s, j) less its mean over the rows with the same current node s: what the SR has learned in this walk beyond what the current node alone says. Uncorrelated with any function of the current node (node[j] among them), so a latent that only names the current node cannot track it',
    'node[j]':
      '1 where the current node is node j, else 0: what a latent that only names the current node tracks. A control for the SR columns, whose largest entry is the current node\u2019s own',
    pNext: 'the SR learner\u2019s predicted probability of the node that comes next (softmax of beta M(s, \u00b7))',
    surprise: '-log pNext',
  },
};

/** The family a column belongs to: `sr[3]` -> `sr`; a scalar column is its own family. */
export function targetFamily(name: string): string {
  const bracket = name.indexOf('[');
  return bracket < 0 ? name : name.slice(0, bracket);
}

/** Two-step targets from a Q-learner fitted to the model's choices (see {@link TARGET_DESCRIPTIONS}). */
export function twoStepTargets(latents: readonly (readonly QLatents[])[], options: TargetOptions = {}): TargetTable {
  const names = ['tdError', 'tdErrorCurrent', 'qChosen', 'qDiff', 'q0', 'q1', 'maxQ'];
  const table = buildTable(latents, names, options, (steps, i) => {
    const now = steps[i];
    if (now.qValues.length !== 2) throw new RangeError(`two-step targets need 2 actions, step ${i} has ${now.qValues.length}`);
    const [q0, q1] = now.qValues;
    return [steps[i - 1].tdError, now.tdError, now.qChosen, q1 - q0, q0, q1, Math.max(q0, q1)];
  });
  return detrend(table, ['tdError', 'qChosen', 'qDiff']);
}

/**
 * The two-step targets at the first-stage choices alone, each column named
 * `firstStage.<name>`. Pooled over both stages a column mixes two quantities: at a
 * first-stage choice the newest outcome is the last trip's reward and the values
 * are those of the two first-stage options; at a second-stage choice the newest
 * outcome is the landing (no reward) and the values are a planet's. A latent that
 * carries one of them, and not the other, is diluted in the pooled column.
 */
export function firstStageTargets(latents: readonly (readonly QLatents[])[], options: TargetOptions = {}): TargetTable {
  const { keep } = options;
  const table = twoStepTargets(latents, { ...options, keep: (e, i) => latents[e][i].state === 0 && (keep === undefined || keep(e, i)) });
  return { ...table, names: table.names.map((name) => `${FIRST_STAGE}${name}`) };
}

/**
 * The two-step targets at the tokens where the model reads each trip's reward
 * (the treasure count), each column named `rewardToken.<name>`. Such a token
 * comes just before the next trip's spaceship choice, so the table has a row for
 * each spaceship choice i after the first trip, and its values are those of
 * transition i - 1, the alien asked and the treasure it gave. `rows` must give,
 * per answer point, the store row of that token (a `Decision.rewardRow`); the
 * other answer points are left out.
 *
 * There the TD error is r - Q(planet, alien), and the reward, 0 or 1, carries
 * most of its variance: a latent that only reads the token's digit correlates
 * with it nearly as well as with the reward. `reward` is the control for that,
 * and `tdOff` what is left of the TD error once the reward is taken out.
 */
export function rewardTokenTargets(latents: readonly (readonly QLatents[])[], options: TargetOptions = {}): TargetTable {
  const { keep } = options;
  const names = ['tdError', 'reward', 'tdOff', 'qChosen'];
  const spaceship = (e: number, i: number) => latents[e][i].state === 0 && (keep === undefined || keep(e, i));
  const table = buildTable(latents, names, { ...options, keep: spaceship }, (steps, i) => {
    const trip = steps[i - 1];
    // tdOff starts as the TD error; its mean per reward value is taken out below, once every row is known.
    return [trip.tdError, trip.reward, trip.tdError, trip.qChosen];
  });
  subtractGroupMeans(targetColumn(table, 'tdOff'), targetColumn(table, 'reward'));
  const detrended = detrend(table, ['tdError']);
  return { ...detrended, names: detrended.names.map((name) => `${REWARD_TOKEN}${name}`) };
}

/** Grid targets from the generating agent's Q-learner (see {@link TARGET_DESCRIPTIONS}). */
export function gridTargets(latents: readonly (readonly QLatents[])[], options: TargetOptions = {}): TargetTable {
  const nActions = firstStep(latents)?.qValues.length ?? 0;
  const names = ['tdError', 'tdErrorCurrent', 'qChosen', 'qDiff', ...indexed('q', nActions), 'maxQ'];
  const table = buildTable(latents, names, options, (steps, i) => {
    const now = steps[i];
    return [steps[i - 1].tdError, now.tdError, now.qChosen, now.qDiff, ...now.qValues, Math.max(...now.qValues)];
  });
  return detrend(table, ['tdError', 'qChosen']);
}

export interface GraphTargetOptions extends TargetOptions {
  /**
   * The walk's transition matrix P[i][j], the same for every experiment (the
   * community graph's structure is fixed by its configuration; only the node
   * names differ); adds the `trans[j]` columns.
   */
  transitionMatrix?: readonly (readonly number[])[];
}

/** Community-graph targets from an SR-TD learner watching the walk (see {@link TARGET_DESCRIPTIONS}). */
export function graphTargets(latents: readonly (readonly SuccessorLatents[])[], options: GraphTargetOptions = {}): TargetTable {
  const n = firstStep(latents)?.srRow.length ?? 0;
  const matrix = options.transitionMatrix;
  if (matrix !== undefined && (matrix.length !== n || matrix.some((row) => row.length !== n))) {
    throw new RangeError(`graph targets: the transition matrix must be ${n} x ${n}, like the SR`);
  }
  const names = [...indexed('sr', n), ...indexed('srTd', n), 'srNext', ...(matrix ? indexed('trans', n) : []), ...indexed('node', n), ...indexed('srOff', n), 'pNext', 'surprise'];
  const table = buildTable(latents, names, options, (steps, i) => {
    const now = steps[i];
    if (now.nextState === null) throw new RangeError(`graph targets: step ${i} has no next node`);
    const pNext = now.probs[now.nextState];
    const node = now.srRow.map((_, j) => (j === now.state ? 1 : 0));
    // srOff[j] starts as sr[j]; what the current node alone says is taken out below, once every row is known.
    return [...now.srRow, ...steps[i - 1].tdErrors, now.srRow[now.nextState], ...(matrix ? matrix[now.state] : []), ...node, ...now.srRow, pNext, -Math.log(pNext)];
  });
  // srOff[j] is sr[j] less its mean over the rows with the same current node.
  const nodes = Array.from({ length: n }, (_, k) => targetColumn(table, `node[${k}]`));
  const current = Int32Array.from({ length: table.groups.length }, (_, r) => nodes.findIndex((column) => column[r] === 1));
  for (let j = 0; j < n; j++) subtractGroupMeans(targetColumn(table, `srOff[${j}]`), current);
  return table;
}

/** The named column; an error lists the names there are. */
export function targetColumn(table: TargetTable, name: string): Float64Array {
  const k = table.names.indexOf(name);
  if (k < 0) throw new RangeError(`no target '${name}' (targets: ${table.names.join(', ')})`);
  return table.columns[k];
}

/** The table with only the named columns, in the order given. */
export function selectTargets(table: TargetTable, names: readonly string[]): TargetTable {
  return { ...table, names: [...names], columns: names.map((name) => targetColumn(table, name)) };
}

/**
 * The rows of a row-major matrix [*, width] with the given ids, in that order:
 * joins a block's activation-store rows (or their SAE latents) to a target table.
 */
export function gatherRows(all: Float32Array, width: number, ids: ArrayLike<number>): Float32Array {
  const total = all.length / width;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(Number.isInteger(id) && id >= 0 && id < total)) throw new RangeError(`row id ${id} is not among the ${total} rows`);
  }
  return copyRows(all, width, ids);
}

/**
 * Takes from each value the mean of the values in its group (rows whose `groups`
 * entry is equal), in place: what is left is uncorrelated with any function of
 * the group.
 */
function subtractGroupMeans(values: Float64Array, groups: ArrayLike<number>): void {
  const sums = new Map<number, { sum: number; count: number }>();
  values.forEach((v, k) => {
    const g = sums.get(groups[k]) ?? { sum: 0, count: 0 };
    g.sum += v;
    g.count++;
    sums.set(groups[k], g);
  });
  values.forEach((_, k) => {
    const g = sums.get(groups[k])!;
    values[k] -= g.sum / g.count;
  });
}

/**
 * The table with a column `<name>Detrended` after the named ones: the column
 * less its mean over the rows at the same answer point (`steps`), one per
 * experiment. Learned values drift over a task, and with them the TD error, so
 * a latent that only tracks where in the task a row is (a trip counter, a stage
 * detector) correlates with the raw column, and beats a permutation null that
 * shuffles within experiments; what is left here is uncorrelated with any
 * function of the answer point.
 */
export function detrend(table: TargetTable, names: readonly string[]): TargetTable {
  const added = names.map((name) => {
    const column = Float64Array.from(targetColumn(table, name));
    subtractGroupMeans(column, table.steps);
    return column;
  });
  return { ...table, names: [...table.names, ...names.map((name) => `${name}${DETRENDED}`)], columns: [...table.columns, ...added] };
}

function indexed(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, j) => `${prefix}[${j}]`);
}

function firstStep<L>(latents: readonly (readonly L[])[]): L | undefined {
  return latents.find((steps) => steps.length > 0)?.[0];
}

/** Rows for answer points 1 .. end of every experiment (point 0 has no previous transition), filtered. */
function buildTable<L>(
  latents: readonly (readonly L[])[],
  names: string[],
  options: TargetOptions,
  values: (steps: readonly L[], i: number) => number[],
): TargetTable {
  const { rows, keep } = options;
  if (rows !== undefined) {
    if (rows.length !== latents.length) throw new RangeError(`targets: row ids for ${rows.length} experiments, latents for ${latents.length}`);
    rows.forEach((r, e) => {
      if (r.length !== latents[e].length) throw new RangeError(`targets: experiment ${e} has ${latents[e].length} steps but ${r.length} row ids`);
    });
  }
  const data: number[][] = names.map(() => []);
  const groups: number[] = [];
  const steps: number[] = [];
  const ids: number[] = [];
  latents.forEach((experiment, e) => {
    for (let i = 1; i < experiment.length; i++) {
      const id = rows?.[e][i];
      if (id === null || (keep !== undefined && !keep(e, i))) continue;
      const v = values(experiment, i);
      if (v.length !== names.length) throw new RangeError(`targets: step ${i} of experiment ${e} gives ${v.length} values for ${names.length} columns`);
      v.forEach((x, k) => data[k].push(x));
      groups.push(e);
      steps.push(i);
      if (id !== undefined) ids.push(id);
    }
  });
  return {
    names,
    columns: data.map((c) => Float64Array.from(c)),
    groups: Int32Array.from(groups),
    steps: Int32Array.from(steps),
    rows: rows === undefined ? null : Int32Array.from(ids),
  };
}
