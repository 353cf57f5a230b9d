import { checkOneOf, ConfigError, definedOnly } from '../config';
import { TASK_KINDS, type TaskKind } from '../envs/types';
import type { ExperimentRecord } from './experiment';
import type { TaskSummary } from './format';
import { graphBatch, graphRecords } from './graph';
import { gridBatch, gridRecords } from './grid';
import { summariseGraph, summariseGrid, summariseTwoStep } from './summary';
import { GRID_AGENTS, overrideRanges, TWO_STEP_AGENTS, type ParamRanges } from './populations';
import { twoStepBatch, twoStepRecords } from './twoStep';

export interface SimulateOptions {
  experiments?: number;
  episodes?: number;
  seed?: number;
  /** Grid only: write the shuffled-rewards control transcripts. */
  rewards?: 'true' | 'shuffled';
  /** Two-step only: opening episodes played at random. */
  randomEpisodes?: number;
  /** Graph only: the number of communities and their size. */
  communities?: number;
  communitySize?: number;
  /**
   * Two-step and grid only: ranges that replace the default agent population's
   * for the parameters named (the others keep theirs), e.g. { beta: [8, 12] }.
   */
  agents?: ParamRanges;
}

/** A task's batch of experiments, and its summary statistics on demand (they fit models, which takes a while). */
export interface Simulation {
  records: ExperimentRecord[];
  summarise(): TaskSummary;
}

/** The options as each task's batch takes them; the graph's walk has no agents whose ranges could be set. */
function batchOptions(task: TaskKind, options: SimulateOptions) {
  if (task === 'graph' && options.agents !== undefined && Object.keys(options.agents).length > 0) {
    throw new ConfigError('agents', options.agents, 'no agent ranges for the graph task (its walk is uniformly random; only two-step and grid draw agents)');
  }
  const { rewards, randomEpisodes, communities, communitySize, agents = {}, ...common } = definedOnly(options);
  return {
    twoStep: { ...common, ...definedOnly({ randomEpisodes }), agents: overrideRanges('agents', TWO_STEP_AGENTS, agents) },
    grid: { ...common, ...definedOnly({ rewards }), agents: overrideRanges('agents', GRID_AGENTS, agents) },
    graph: { ...common, config: definedOnly({ communities, communitySize }) },
  };
}

/**
 * A task's experiments with the options the CLI and the extension expose, made
 * one at a time as they are read (the options are checked at once), so that a
 * batch of any size can be written out without being held.
 */
export function taskRecords(task: TaskKind, options: SimulateOptions = {}): Iterable<ExperimentRecord> {
  checkOneOf('task', task, TASK_KINDS);
  const o = batchOptions(task, options);
  switch (task) {
    case 'two-step':
      return twoStepRecords(o.twoStep);
    case 'grid':
      return gridRecords(o.grid);
    case 'graph':
      return graphRecords(o.graph);
  }
}

/** One batch of a task's experiments, and its summary statistics on demand. */
export function simulateTask(task: TaskKind, options: SimulateOptions = {}): Simulation {
  checkOneOf('task', task, TASK_KINDS);
  const o = batchOptions(task, options);
  switch (task) {
    case 'two-step': {
      const records = twoStepBatch(o.twoStep);
      return { records, summarise: () => summariseTwoStep(records) };
    }
    case 'grid': {
      const records = gridBatch(o.grid);
      return { records, summarise: () => summariseGrid(records) };
    }
    case 'graph': {
      const records = graphBatch(o.graph);
      return { records, summarise: () => summariseGraph(records) };
    }
  }
}
