import { checkOneOf, definedOnly } from '../config';
import { TASK_KINDS, type TaskKind } from '../envs/types';
import type { ExperimentRecord } from './experiment';
import type { TaskSummary } from './format';
import { graphBatch } from './graph';
import { gridBatch } from './grid';
import { summariseGraph, summariseGrid, summariseTwoStep } from './summary';
import { twoStepBatch } from './twoStep';

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

/** One batch of a task's experiments, with the options the CLI and the extension expose. */
export function simulateTask(task: TaskKind, options: SimulateOptions = {}): Simulation {
  checkOneOf('task', task, TASK_KINDS);
  const { rewards, randomEpisodes, communities, communitySize, ...common } = definedOnly(options);
  switch (task) {
    case 'two-step': {
      const records = twoStepBatch({ ...common, ...definedOnly({ randomEpisodes }) });
      return { records, summarise: () => summariseTwoStep(records) };
    }
    case 'grid': {
      const records = gridBatch({ ...common, ...definedOnly({ rewards }) });
      return { records, summarise: () => summariseGrid(records) };
    }
    case 'graph': {
      const records = graphBatch({ ...common, config: definedOnly({ communities, communitySize }) });
      return { records, summarise: () => summariseGraph(records) };
    }
  }
}
