import { redactText, redactValue } from '#shared/log/redact.ts';
import type { CheckResult } from '#shared/report/types.ts';

/**
 * The SNS message for one failed target: a short ASCII subject for mail and chat, a body a
 * person reads first (summary) and a machine reads second (the result as JSON), and message
 * attributes for subscription filter policies.
 */
export interface Alert {
  subject: string;
  message: string;
  attributes: { target: string; outcome: string; severity: string };
}

/** SNS: subjects are ASCII, under 100 characters, no line breaks or control characters. */
export const MAX_SUBJECT_LENGTH = 99;

/** SNS messages are at most 256 KB; keep a margin for the encoding. */
export const MAX_MESSAGE_BYTES = 250_000;

/** Severity when the target has no `severity` tag. */
export const DEFAULT_SEVERITY = 'page';

export function formatAlert(result: CheckResult): Alert {
  const safe = redactValue(result) as CheckResult;
  return {
    subject: formatSubject(safe),
    message: fitMessage(
      `${formatSummary(safe)}\n\nResult (JSON):\n${JSON.stringify(safe, null, 2)}\n`,
    ),
    attributes: {
      target: toAscii(safe.target) || 'unnamed',
      outcome: safe.outcome,
      severity: toAscii(safe.tags.severity ?? '') || DEFAULT_SEVERITY,
    },
  };
}

/** `RDS IAM REJECTED orders-primary eu-west-1`; the target name is shortened to fit. */
export function formatSubject(result: CheckResult): string {
  const head = `RDS IAM ${describeFailure(result)}`;
  const region = toAscii(result.region);
  let target = toAscii(result.target);
  const room = MAX_SUBJECT_LENGTH - head.length - region.length - 2;
  if (target.length > room) target = `${target.slice(0, Math.max(0, room - 3))}...`;
  return `${head} ${target} ${region}`.slice(0, MAX_SUBJECT_LENGTH);
}

/** REJECTED, NOT REJECTED (a guard that let the canary in), or the outcome in words. */
export function describeFailure(result: CheckResult): string {
  if (result.outcome === 'AUTH_REJECTED' && result.expect === 'connect') return 'REJECTED';
  if (result.outcome === 'CONNECTED' && result.expect === 'reject') return 'NOT REJECTED';
  return result.outcome.replace(/_/g, ' ');
}

function formatSummary(r: CheckResult): string {
  const lines = [
    `RDS IAM authentication check failed for ${r.target}.`,
    '',
    `Outcome:   ${r.outcome} (expected: ${r.expect === 'connect' ? 'CONNECTED' : 'AUTH_REJECTED'})`,
    `Principal: ${r.principal ?? '(no credentials)'}`,
    `Endpoint:  ${r.endpoint} (${r.engine})`,
    `Region:    ${r.region}`,
    `Error:     ${r.error ? `${r.error.code} ${r.error.message}` : '(none)'}`,
    `Attempts:  ${r.attempts}`,
  ];
  for (const finding of r.diagnosis) {
    lines.push(
      `Finding:   ${finding.cause} (${finding.confidence}): ${finding.evidence}`,
      `Fix:       ${finding.fix}`,
    );
  }
  const tags = Object.entries(r.tags).map(([k, v]) => `${k}=${v}`);
  lines.push(`Tags:      ${tags.length > 0 ? tags.join(', ') : '(none)'}`);
  return redactText(lines.join('\n'));
}

/** Printable ASCII only: control characters and anything non-ASCII are dropped. */
function toAscii(text: string): string {
  return text
    .replace(/[^\x20-\x7e]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function fitMessage(message: string): string {
  if (Buffer.byteLength(message) <= MAX_MESSAGE_BYTES) return message;
  const cut = Buffer.from(message)
    .subarray(0, MAX_MESSAGE_BYTES - 32)
    .toString('utf8');
  return `${cut.replace(/\uFFFD$/, '')}\n[truncated to fit SNS]\n`;
}
