/** What a benchmark returns: its measurements as rows, and the lines a person reads. */
export interface BenchReport {
  name: string;
  /** One object per measured configuration; numbers are per second or ratios. */
  rows: Record<string, number | string | boolean>[];
  /** Human-readable conclusions, each with the ratio it rests on. */
  summary: string[];
}

/** Median of `repeats` timed runs of `f`, in seconds, after one warm-up run. */
export async function timeMedian(f: () => Promise<unknown> | unknown, repeats = 5): Promise<number> {
  await f();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    await f();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
