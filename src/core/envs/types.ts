/** The three task families of the study. */
export const TASK_KINDS = ['two-step', 'grid', 'graph'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/**
 * One step of a tabular decision process, as a learner sees it: the state the
 * choice was made in, the action taken, the reward that followed and the state
 * it led to (null when the episode ended there).
 */
export interface Transition {
  state: number;
  action: number;
  reward: number;
  nextState: number | null;
}

/** The size of a tabular task: states, and the number of actions in every state. */
export interface TabularSpec {
  nStates: number;
  nActions: number;
}
