/**
 * Configuration errors and the checks that raise them. Every configuration is a
 * typed object with defaults, validated once at the boundary; an error names the
 * field, the value and what is allowed.
 */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`${field} = ${formatValue(value)} is not allowed: ${allowed}`);
    this.name = 'ConfigError';
  }
}

function formatValue(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function checkNumber(field: string, value: unknown, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(field, value, `a finite number in [${min}, ${max}]`);
  }
  return value;
}

export function checkProbability(field: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new ConfigError(field, value, 'a probability in [0, 1]');
  }
  return value;
}

export function checkInteger(field: string, value: unknown, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new ConfigError(field, value, `an integer ${range}`);
  }
  return value;
}

export function checkOneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new ConfigError(field, value, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as T;
}

/** Rejects keys the config type does not know, so a typo is not silently ignored. */
export function checkKnownKeys(field: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new ConfigError(`${field}.${key}`, (value as Record<string, unknown>)[key], `a known option: ${known.join(', ')}`);
    }
  }
}

/** The entries of `o` whose value is not undefined, so defaults spread before them survive. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
