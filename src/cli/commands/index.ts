import { dataset } from './dataset';
import { evaluate } from './evaluate';
import { model } from './model';
import { reproduce } from './reproduce';
import { simulate } from './simulate';

/** A CLI command: a one-line summary and an entry that returns the exit code. */
export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

export const commands: Record<string, Command> = { simulate, dataset, model, evaluate, reproduce };
