import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * Versioned JSON files (results, discovered latents): each has a JSON schema,
 * is validated before it is written and when it is read, and is replaced
 * atomically so a reader never sees half a file.
 */

/** A file that is not valid JSON or does not match its schema. */
export class JsonFormatError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'JsonFormatError';
  }
}

/** An ISO 8601 date and time with seconds and a zone, as `Date.prototype.toISOString` writes it. */
export const ISO_TIME_SCHEMA = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$' };

const ajv = new Ajv({ allErrors: false, strict: true });

export function compileSchema<T>(schema: object): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

/** The first schema error as "at /latents/3/r: must be number" (the root is "at the top level"). */
export function describeError(errors: readonly ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'does not match the schema';
  const where = e.instancePath === '' ? 'at the top level' : `at ${e.instancePath}`;
  const detail = e.keyword === 'additionalProperties' ? ` (${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)})` : '';
  const allowed = e.keyword === 'enum' || e.keyword === 'const' ? `: ${JSON.stringify(e.params)}` : '';
  return `${where}: ${e.message ?? e.keyword}${detail}${allowed}`;
}

/** Parses and validates a value; throws a {@link JsonFormatError} naming `file` and the first problem. */
export function checkValue<T>(value: unknown, validate: ValidateFunction<T>, file: string): T {
  if (!validate(value)) throw new JsonFormatError(file, describeError(validate.errors));
  return value;
}

export async function readJson<T>(file: string, validate: ValidateFunction<T>): Promise<T> {
  const text = await readFile(file, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new JsonFormatError(file, `is not valid JSON (${(e as Error).message})`);
  }
  return checkValue(value, validate, file);
}

/**
 * Writes `value` as JSON after checking it against the schema: to a temporary
 * file beside the target, then renamed over it. An existing file that is not a
 * valid file of the same kind is not replaced (it may be someone's work): the
 * error names it and says why.
 */
export async function writeJsonAtomic<T>(file: string, value: T, validate: ValidateFunction<T>): Promise<void> {
  // NaN and Infinity would become null in JSON: the schema catches them before anything is written.
  checkValue(JSON.parse(JSON.stringify(value)), validate, file);
  try {
    await readJson(file, validate);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      const why = e instanceof JsonFormatError ? e.problem : (e as Error).message;
      throw new JsonFormatError(file, `exists and is not a valid file of this kind (${why}); it was left as it is: move or delete it first`);
    }
  }
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`, 'utf8');
    await rename(temporary, file);
  } catch (e) {
    await rm(temporary, { force: true });
    throw e;
  }
}
