import { CanaryError } from '#shared/errors.ts';

/**
 * A check ran out of time: its own budget (`CHECK_TIMEOUT`) or the round's deadline
 * (`ROUND_DEADLINE`). Used as the abort reason of the check's signal.
 */
export class CheckTimeoutError extends CanaryError {
  readonly phase = 'check' as const;

  constructor(code: 'CHECK_TIMEOUT' | 'ROUND_DEADLINE', message: string) {
    super(code, message);
  }
}
