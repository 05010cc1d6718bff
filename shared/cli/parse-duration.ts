import { UserInputError } from '#shared/errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds from `500ms`, `60s`, `5m`, `1h`, or a bare number of seconds. Throws
 * UserInputError (path `flag`) for anything else.
 *
 * @example parseDuration('90s', '--interval') // 90000
 */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) {
    throw new UserInputError(flag, `"${text}" is not a duration: write e.g. 30s, 5m or 1h`);
  }
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!);
}
