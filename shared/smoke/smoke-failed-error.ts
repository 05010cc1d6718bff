/**
 * How a failed smoke run leaves the Lambda. The invocation must fail (so a pipeline or
 * an alarm sees it), and Lambda then returns only `{ errorType, errorMessage }`: the
 * report travels in the message, after a one-line summary, so that `rds-iam-canary smoke`
 * can still print the table.
 *
 *   errorType:    SmokeFailedError
 *   errorMessage: "2 of 5 targets failed after 3 rounds: orders AUTH_REJECTED (28000), ...\n{report JSON}"
 */
import { CanaryError } from '#shared/errors.ts';
import { type SmokeReport, summarizeFailures } from './run-smoke.ts';

export class SmokeFailedError extends CanaryError {
  readonly report: SmokeReport;

  constructor(report: SmokeReport) {
    super('SMOKE_FAILED', `${summarizeFailures(report)}\n${JSON.stringify(report)}`);
    this.report = report;
  }
}

/** The summary line and report of a SmokeFailedError's message; report null if absent. */
export function parseSmokeFailure(message: string): {
  summary: string;
  report: SmokeReport | null;
} {
  const newline = message.indexOf('\n');
  if (newline < 0) return { summary: message, report: null };

  const summary = message.slice(0, newline);
  try {
    const report = JSON.parse(message.slice(newline + 1)) as SmokeReport;
    return Array.isArray(report?.results) ? { summary, report } : { summary, report: null };
  } catch {
    return { summary, report: null };
  }
}
