/**
 * The project's one base error. Every error the canary raises on purpose is a CanaryError
 * (or a subclass) with a stable `code`; a wrapped driver or AWS error travels as `cause`.
 */
export class CanaryError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A problem in user input (config file, CLI flags, event payload): no stack trace shown. */
export class UserInputError extends CanaryError {
  /** Where the problem is, e.g. `targets[2].port`. */
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('INVALID_INPUT', path ? `${path}: ${message}` : message, options);
    this.path = path;
  }
}
