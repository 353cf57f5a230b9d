import { checkInteger, checkKnownKeys, checkOneOf, ConfigError } from '../config';
import { cellCoords, GRID_ACTIONS, shuffleGridRewards, type GridConfig, type GridEpisode } from '../envs/gridWorld';
import { checkLabels, formatNumber, TranscriptBuilder, type Transcript } from './transcript';

/**
 * Grid-world trajectories as the model watches them. Cells are written
 * "(row,column)", counted from 0 at the top left. Template (defaults shown):
 *
 *     An agent is moving through a 5 x 5 grid in search of rewards. ... (the instruction)
 *
 *     Episode 1: at (0,0) it went right, reward 0.
 *     Episode 1: at (0,1) it went down, reward 0.
 *     ...
 *
 * One line per step; the action word is the answer (kind 'prediction',
 * allowed the four action words in action order).
 */
export interface GridPromptOptions {
  /**
   * 'true': the rewards the agent received. 'shuffled': the control condition,
   * where the rewards shown are those of all steps of the experiment in a random
   * order (see shuffleGridRewards); cells, actions and episode ends are unchanged.
   */
  rewards: 'true' | 'shuffled';
  /** Seed of the shuffle; required when rewards is 'shuffled'. */
  shuffleSeed: number | null;
  /** Words for actions 0..3 (up, down, left, right). */
  actionWords: [string, string, string, string];
}

export const GRID_PROMPT_DEFAULTS: GridPromptOptions = {
  rewards: 'true',
  shuffleSeed: null,
  actionWords: [...GRID_ACTIONS],
};

export interface GridTranscriptMeta {
  rewards: 'true' | 'shuffled';
  shuffleSeed: number | null;
  actionWords: string[];
}

export function gridPromptOptions(partial: Partial<GridPromptOptions> = {}): GridPromptOptions {
  checkKnownKeys('gridPrompt', partial, Object.keys(GRID_PROMPT_DEFAULTS));
  const o = { ...GRID_PROMPT_DEFAULTS, ...partial };
  checkOneOf('gridPrompt.rewards', o.rewards, ['true', 'shuffled'] as const);
  if (o.rewards === 'shuffled') {
    if (o.shuffleSeed === null) throw new ConfigError('gridPrompt.shuffleSeed', null, "an integer seed, required when gridPrompt.rewards is 'shuffled'");
    checkInteger('gridPrompt.shuffleSeed', o.shuffleSeed);
  } else if (o.shuffleSeed !== null) {
    throw new ConfigError('gridPrompt.shuffleSeed', o.shuffleSeed, "null unless gridPrompt.rewards is 'shuffled'");
  }
  if (!Array.isArray(o.actionWords) || o.actionWords.length !== GRID_ACTIONS.length) {
    throw new ConfigError('gridPrompt.actionWords', o.actionWords, 'four words, for up, down, left and right');
  }
  checkLabels(Object.fromEntries(o.actionWords.map((w, i) => [`gridPrompt.actionWords[${i}]`, w])));
  return { ...o, actionWords: [o.actionWords[0], o.actionWords[1], o.actionWords[2], o.actionWords[3]] };
}

function cellText(cell: number, size: number): string {
  const [r, c] = cellCoords(cell, size);
  return `(${r},${c})`;
}

/** The instruction that opens every grid transcript, followed by a blank line. */
export function gridInstruction(config: GridConfig, actionWords: readonly string[]): string {
  const { size, walls } = config;
  const [up, down, left, right] = actionWords;
  const wallText =
    walls.length === 0
      ? ''
      : `Walls block the cell${walls.length > 1 ? 's' : ''} ${walls.map((w) => cellText(w, size)).join(', ')}. `;
  const slipText = config.slipProb > 0 ? 'Sometimes the agent slips and moves in a random direction. ' : '';
  return (
    `An agent is moving through a ${size} x ${size} grid in search of rewards. ` +
    `Rows and columns are numbered 0 to ${size - 1} from the top left; (1,0) means row 1, column 0. ` +
    `At each step the agent goes ${up}, ${down}, ${left} or ${right}; a move off the grid${walls.length ? ' or into a wall' : ''} leaves it where it is. ` +
    wallText +
    slipText +
    `An episode ends when the agent reaches a rewarded cell or after ${config.maxSteps} steps; ` +
    `the next episode starts again at ${cellText(config.start, size)}. ` +
    `Each line shows where the agent was, which way it went and the reward it received.\n\n`
  );
}

/** The transcript of one experiment's episodes in a grid configured by `config`. */
export function gridTranscript(
  config: GridConfig,
  episodes: readonly GridEpisode[],
  options: Partial<GridPromptOptions> = {},
): Transcript<GridTranscriptMeta> {
  const o = gridPromptOptions(options);
  const shown = o.rewards === 'shuffled' ? shuffleGridRewards(episodes, o.shuffleSeed!) : episodes;
  const b = new TranscriptBuilder().text(gridInstruction(config, o.actionWords));
  shown.forEach((ep, e) =>
    ep.steps.forEach((s, t) => {
      b.text(`Episode ${e + 1}: at ${cellText(s.cell, config.size)} it went `);
      b.answer(o.actionWords[s.action], o.actionWords, { episode: e, step: t, kind: 'prediction' });
      b.text(`, reward ${formatNumber(s.reward)}.\n`);
    }),
  );
  return b.build('grid', { rewards: o.rewards, shuffleSeed: o.shuffleSeed, actionWords: [...o.actionWords] });
}
