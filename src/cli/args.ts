import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../core/config';

/** Parses a command's options; unknown options and stray arguments are errors that name them. */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nRun with --help for the options.`);
  }
}

/** An integer option: absent gives undefined, anything else must parse. */
export function intOption(name: string, value: string | undefined, min = -Infinity): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new ConfigError(`--${name}`, value, min === -Infinity ? 'an integer' : `an integer >= ${min}`);
  }
  return n;
}

/** A number option: absent gives undefined, anything else must parse to a finite number at least `min`. */
export function numberOption(name: string, value: string | undefined, min = -Infinity): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new ConfigError(`--${name}`, value, `a number >= ${min}`);
  return n;
}
