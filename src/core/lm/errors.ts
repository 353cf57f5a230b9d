/**
 * A problem with a model's files: which file, what is wrong with it, and what the
 * user can do about it. The message carries all three, so a CLI or notebook can
 * print it as is.
 */
export class ModelError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${file}: ${problem}\nFix: ${fix}`);
    this.name = 'ModelError';
  }
}
