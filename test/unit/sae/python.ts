import { spawnSync } from 'node:child_process';

/**
 * The Python that runs the independent reference scripts: the system one first
 * (CI installs python3-numpy from Debian), then whatever `python3` is on the PATH.
 * Returns null when none of them has numpy, so the test can skip saying why.
 */
export function pythonWithNumpy(): string | null {
  return pythonWith('numpy');
}

/** As pythonWithNumpy, for PyTorch (CI installs python3-torch from Debian). */
export function pythonWithTorch(): string | null {
  return pythonWith('numpy, torch');
}

function pythonWith(modules: string): string | null {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(candidate, ['-c', `import ${modules}`], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  return null;
}

export function runPython(python: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(python, args, { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}
