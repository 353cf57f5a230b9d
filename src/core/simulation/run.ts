import { checkOneOf, definedOnly } from '../config';
import { TASK_KINDS, type TaskKind } from '../envs/types';
import type { ExperimentRecord } from './experiment';
import type { TaskSummary } from './format';
import { graphBatch, graphRecords } from './graph';
import { gridBatch, gridRecords } from './grid';
import { summariseGraph, summariseGrid, summariseTwoStep } from './summary';
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
}

/** A task's batch of experiments, and its summary statistics on demand (they fit models, which takes a while). */
export interface Simulation {
  records: ExperimentRecord[];
  summarise(): TaskSummary;
}

/** The options as each task's batch takes them. */
function batchOptions(options: SimulateOptions) {
  const { rewards, randomEpisodes, communities, communitySize, ...common } = definedOnly(options);
  return {
    twoStep: { ...common, ...definedOnly({ randomEpisodes }) },
    grid: { ...common, ...definedOnly({ rewards }) },
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
  const o = batchOptions(options);
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
  const o = batchOptions(options);
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
