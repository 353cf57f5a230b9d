/**
 * `npm run bench [-- --json] [-- NAME...]`: runs every benchmark that lives beside
 * the code it measures (`src/**\/*.bench.ts`). Each reports ratios against a
 * reference measured in the same run, since absolute times on a shared machine
 * are noise.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { BenchReport } from './report';

function findBenches(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findBenches(path);
    return entry.name.endsWith('.bench.ts') ? [path] : [];
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const filters = args.filter((a) => !a.startsWith('--'));
  const files = findBenches(join(__dirname, '..', 'src')).filter((f) => filters.length === 0 || filters.some((n) => f.includes(n)));
  const reports: BenchReport[] = [];
  for (const file of files) {
    const mod = (await import(file)) as { default: (log: (line: string) => void) => Promise<BenchReport> };
    const log = json ? (line: string) => console.error(line) : (line: string) => console.log(line);
    log(`\n== ${relative(join(__dirname, '..'), file)}`);
    const report = await mod.default(log);
    reports.push(report);
    if (!json) for (const line of report.summary) console.log(line);
  }
  if (json) console.log(JSON.stringify(reports, null, 2));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exitCode = 1;
});
