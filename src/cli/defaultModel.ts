import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The embedded default model's folder name under models/. */
export const DEFAULT_MODEL_NAME = 'icrl-tiny';

/**
 * The embedded default model: models/icrl-tiny in the package, found from the
 * running code upwards (dist/cli.js in the package, or the sources in a checkout).
 */
export function defaultModelDir(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'models', DEFAULT_MODEL_NAME);
    if (existsSync(join(dir, 'package.json')) || existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return candidate;
  }
}
