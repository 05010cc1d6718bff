import type { CheckResult, RoundReport } from './types.ts';

/**
 * The human view of a round, for a terminal: one row per target (result, target, outcome,
 * latency, attempts, cause), then a summary line. `cause` is the top diagnosis finding,
 * else the error code.
 */
export function renderTable(report: RoundReport): string {
  const header = ['', 'TARGET', 'OUTCOME', 'LATENCY', 'ATTEMPTS', 'CAUSE'];
  const rows = report.results.map((r) => [
    r.passed ? 'ok' : 'FAIL',
    r.target,
    r.expect === 'reject' ? `${r.outcome} (want reject)` : r.outcome,
    formatMs(r.timings.totalMs),
    String(r.attempts),
    describeCause(r),
  ]);

  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const format = (row: string[]) =>
    row
      .map((cell, i) => (i === 3 || i === 4 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();

  const { total, passed, failed } = report.summary;
  const summary = `${total} targets: ${passed} passed, ${failed} failed in ${formatMs(report.durationMs)}`;
  return `${[format(header), ...rows.map(format)].join('\n')}\n\n${summary}\n`;
}

/** `[3/9] orders-primary CONNECTED 42 ms`: printed as each target finishes, on a terminal. */
export function renderProgress(result: CheckResult, done: number, total: number): string {
  const mark = result.passed ? 'ok  ' : 'FAIL';
  return `[${done}/${total}] ${mark} ${result.target} ${result.outcome} ${formatMs(result.timings.totalMs)}`;
}

/** The top finding's cause, else the error code, else empty. */
export function describeCause(result: CheckResult): string {
  return result.diagnosis[0]?.cause ?? result.error?.code ?? '';
}

function formatMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}
