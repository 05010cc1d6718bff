import { UserInputError } from '#shared/errors.ts';

/**
 * A problem in the config file: `path` says where in the file (`targets[2].port`), the
 * message says what to do about it, and `file` names the file. One line, no stack: the CLI
 * prints `<file>: <message>`, the Lambda logs it with `config_path`.
 */
export class ConfigError extends UserInputError {
  readonly file: string;

  constructor(file: string, path: string, message: string, options?: { cause?: unknown }) {
    super(path, message, options);
    this.file = file;
  }
}
