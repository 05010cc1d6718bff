/** One section of BENCHMARKS.md, produced by one `bench/*.bench.ts` module. */
export interface BenchSection {
  title: string;
  /** What was measured and how, in a sentence or two. */
  description: string;
  columns: string[];
  rows: (string | number)[][];
  /** Verdicts against the issue's targets, caveats. */
  notes: string[];
}

/** Median of a list of numbers (milliseconds, bytes...). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
