/**
 * The benchmark kit every `packages/*\/bench/*.bench.ts` file uses. A bench file measures a
 * figure and its baseline in the same run and calls {@link report}; `npm run bench` runs every
 * bench file in its own process and prints one table with the ratio of each pair.
 *
 * Not published; benchmarks never gate CI.
 */

/** One measured figure beside its baseline. */
export interface Figure {
  /** Which issue/package the figure belongs to, e.g. `core`. */
  readonly group: string
  /** What was measured, e.g. `file store open, 10k records`. */
  readonly name: string
  readonly value: number
  /** `ops/s`, `ms`, `MB/s`, `calls`… */
  readonly unit: string
  readonly baseline?: { readonly name: string; readonly value: number }
  /** True for throughput (ops/s, MB/s), false for durations and counts where less is better. */
  readonly higherIsBetter: boolean
  /** A goal stated by the issue, shown beside the figure, e.g. `≥ 10× baseline`. */
  readonly goal?: string
}

/** Prints one figure as a line the `npm run bench` harness collects. */
export function report(figure: Figure): void {
  process.stdout.write(`@@bench ${JSON.stringify(figure)}\n`)
}

/** Runs `fn` repeatedly for about `durationMs` (after a warm-up) and returns operations per second. */
export async function opsPerSecond(
  fn: () => unknown | Promise<unknown>,
  {
    durationMs = 1000,
    warmupMs = 200,
    batch = 1,
  }: { durationMs?: number; warmupMs?: number; batch?: number } = {},
): Promise<number> {
  const runFor = async (ms: number) => {
    let ops = 0
    const start = performance.now()
    let now = start
    while (now - start < ms) {
      for (let i = 0; i < batch; i++) {
        const result = fn()
        if (result instanceof Promise) await result
      }
      ops += batch
      now = performance.now()
    }
    return ops / ((now - start) / 1000)
  }
  await runFor(warmupMs)
  return runFor(durationMs)
}

/** Runs `fn` `warmups` times, then `runs` times, and returns each timed run's duration (ms), sorted. */
async function sortedTimesMs(
  fn: () => unknown | Promise<unknown>,
  runs: number,
  warmups: number,
): Promise<number[]> {
  for (let i = 0; i < warmups; i++) await fn()
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await fn()
    times.push(performance.now() - start)
  }
  return times.sort((a, b) => a - b)
}

/** Runs `fn` `runs` times (after one warm-up) and returns the median duration in milliseconds. */
export async function medianMs(fn: () => unknown | Promise<unknown>, runs = 5): Promise<number> {
  const times = await sortedTimesMs(fn, runs, 1)
  return times[Math.floor(times.length / 2)]!
}

/**
 * Runs `fn` `runs` times (after `warmups` untimed runs) and returns the 50th and 99th percentile
 * durations in milliseconds.
 */
export async function percentilesMs(
  fn: () => unknown | Promise<unknown>,
  runs: number,
  warmups = 20,
): Promise<{ p50: number; p99: number }> {
  const times = await sortedTimesMs(fn, runs, warmups)
  return {
    p50: times[Math.floor(runs * 0.5)] ?? 0,
    p99: times[Math.min(runs - 1, Math.floor(runs * 0.99))] ?? 0,
  }
}
