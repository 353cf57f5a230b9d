import { parseArgs, type ParseArgsConfig } from 'node:util';
import { checkOneOf, ConfigError } from '../core/config';
import type { AnswerPolicy } from '../core/lm';

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

/** The options that choose how a model picks its labels, as a command's help lists them. */
export const POLICY_HELP = `  --policy P           sample (default) or argmax: how the model picks its labels
  --temperature T      the sampling temperature (default 1)`;

/** --policy and --temperature as an answer policy; absent gives undefined (the command's default). */
export function policyOption(policy: string | undefined, temperature: string | undefined): AnswerPolicy | undefined {
  const kind = policy === undefined ? undefined : checkOneOf('--policy', policy, ['sample', 'argmax'] as const);
  const t = numberOption('temperature', temperature, Number.MIN_VALUE);
  if (kind === 'argmax') {
    if (t !== undefined) throw new ConfigError('--temperature', temperature, 'no temperature with --policy argmax');
    return { kind };
  }
  if (kind === undefined && t === undefined) return undefined;
  return { kind: 'sample', temperature: t ?? 1 };
}
