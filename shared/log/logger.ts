import { redactValue } from './redact.ts';

/**
 * Structured logging: one JSON object per line, one line per event, stable snake_case keys
 * (`time`, `level`, `event`, then the event's fields). In Lambda the lines go to stdout and
 * CloudWatch Logs; the CLI sends them to stderr so stdout stays for the table or report.
 * Every line passes through redaction (shared/log/redact.ts) before it is written.
 *
 * @example logger.info('check_result', { target: 'orders', outcome: 'CONNECTED' })
 */
export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Record<string, unknown>): Logger;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface LoggerOptions {
  /** Where each line goes, without its newline (default: process.stdout). */
  sink?: (line: string) => void;
  /** Lines below this level are dropped (default 'info'). */
  level?: LogLevel;
  /** Fields on every line (e.g. `{ service: 'rds-iam-canary' }`). */
  base?: Record<string, unknown>;
  /** Clock for `time` (tests). */
  now?: () => Date;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const threshold = RANK[options.level ?? 'info'];
  const now = options.now ?? (() => new Date());

  const make = (base: Record<string, unknown>): Logger => {
    const write = (level: Exclude<LogLevel, 'silent'>, event: string, fields = {}) => {
      if (RANK[level] < threshold) return;
      sink(formatLine({ time: now().toISOString(), level, event, ...base, ...fields }));
    };
    return {
      debug: (event, fields) => write('debug', event, fields),
      info: (event, fields) => write('info', event, fields),
      warn: (event, fields) => write('warn', event, fields),
      error: (event, fields) => write('error', event, fields),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.base ?? {});
}

/** A logger that writes nothing (tests, `--json` runs that must keep stderr quiet). */
export const silentLogger: Logger = createLogger({ level: 'silent', sink: () => {} });

/** One JSON line: top-level keys in snake_case, secrets redacted, undefined fields dropped. */
export function formatLine(fields: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[toSnakeCase(key)] = value;
  }
  return JSON.stringify(redactValue(out));
}

/** `tokenAgeSeconds` -> `token_age_seconds`; already snake_case keys are unchanged. */
export function toSnakeCase(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}
