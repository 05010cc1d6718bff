import { CanaryError } from '#shared/errors.ts';

/**
 * A problem `sandbox up|down` cannot get past. The CLI prints it as one line,
 * `sandbox: <what is wrong>: <what to do>`, and exits 2.
 */
export class SandboxError extends CanaryError {
  /** What the user should do about it. */
  readonly remedy: string;

  constructor(code: string, what: string, remedy: string, options?: { cause?: unknown }) {
    super(code, what, options);
    this.remedy = remedy;
  }

  /** The one line the CLI prints. */
  toLine(): string {
    return `sandbox: ${this.message}: ${this.remedy}`;
  }
}
