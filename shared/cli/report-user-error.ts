import { ConfigError } from '#shared/config/config-error.ts';
import { UserInputError } from '#shared/errors.ts';

/** Exit code 2 and one line on stderr for a user error; anything else is rethrown. */
export function reportUserError(error: unknown): number {
  if (error instanceof ConfigError) {
    process.stderr.write(`rds-iam-canary: ${error.file}: ${error.message}\n`);
    return 2;
  }
  if (error instanceof UserInputError) {
    process.stderr.write(`rds-iam-canary: ${error.message}\n`);
    return 2;
  }
  if (
    error instanceof TypeError &&
    String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')
  ) {
    // Node's own messages may span lines; the CLI's user errors are one line.
    const message = error.message.replace(/\.?\s*\n\s*/g, '. ').replace(/\.$/, '');
    process.stderr.write(`rds-iam-canary: ${message}: see --help\n`);
    return 2;
  }
  throw error;
}
