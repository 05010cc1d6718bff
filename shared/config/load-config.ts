import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { UserInputError } from '#shared/errors.ts';
import { redactText } from '#shared/log/redact.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';
import { ConfigError } from './config-error.ts';
import { readBoundedTextFile } from './read-bounded-file.ts';
import { resolveTargets } from './resolve-targets.ts';
import {
  configFileSchema,
  defaultsSchema,
  deploySchema,
  type RoundSettings,
  roleHopSchema,
  settingsSchema,
  targetSchema,
  tlsSchema,
} from './schema.ts';

/** A config file is a short list of targets; anything bigger is a mistake or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** YAML aliases are handy for repeated blocks; a few dozen is plenty, thousands is a bomb. */
const MAX_ALIAS_COUNT = 50;

/** The loaded config: every target with defaults applied, and the round settings. */
export interface CanaryConfig {
  /** Absolute path of the file it came from. */
  path: string;
  targets: ResolvedTarget[];
  settings: RoundSettings;
}

/**
 * Reads, parses (YAML, so JSON too) and validates a config file, and resolves its targets.
 * Throws ConfigError (a UserInputError) naming the file, the field (`targets[2].port`) and
 * the fix, in one line.
 *
 * @example const config = loadConfig(process.env.CANARY_CONFIG ?? 'canary.yaml', process.env);
 */
export function loadConfig(
  path: string,
  env: Record<string, string | undefined> = process.env,
): CanaryConfig {
  const file = resolve(path);
  const text = readConfigText(file);
  return parseConfig(text, { file, env });
}

export interface ParseOptions {
  /** Absolute path the text came from: names it in errors, anchors relative CA paths. */
  file: string;
  env: Record<string, string | undefined>;
  /** Check that `tls.ca` files exist (default true). */
  checkFiles?: boolean;
}

/** Parses and validates config text; see loadConfig. */
export function parseConfig(text: string, options: ParseOptions): CanaryConfig {
  const raw = parseYaml(text, options.file);

  const result = configFileSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const { path, message } = describeIssue(issue);
    throw new ConfigError(options.file, path, printable(message));
  }

  try {
    const targets = resolveTargets(result.data, {
      baseDir: dirname(options.file),
      env: options.env,
      checkFiles: options.checkFiles,
    });
    const settings = settingsSchema.parse(result.data.settings ?? {});
    return { path: options.file, targets, settings };
  } catch (error) {
    if (error instanceof UserInputError) {
      throw new ConfigError(options.file, printable(error.path), printable(stripPath(error)), {
        cause: error,
      });
    }
    throw error;
  }
}

function readConfigText(file: string): string {
  try {
    return readBoundedTextFile(file, MAX_CONFIG_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const fix =
      code === 'ENOENT'
        ? 'no such file: pass --config FILE or set CANARY_CONFIG'
        : code === 'NOT_REGULAR_FILE'
          ? `${(error as Error).message}: pass a config file to --config`
          : code === 'FILE_TOO_BIG'
            ? `the file is ${(error as Error).message}: is it the right file?`
            : `cannot read it (${code ?? 'error'}): check the path and its permissions`;
    throw new ConfigError(file, '', fix, { cause: error });
  }
}

function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) {
    const pos = problem.linePos?.[0];
    const where = pos ? `line ${pos.line}, column ${pos.col}` : '';
    const what = problem.message.split('\n')[0]!.replace(/ at line \d+, column \d+.*$/, '');
    throw new ConfigError(file, where, `${printable(what)}: fix the YAML (or JSON) syntax`);
  }

  try {
    const value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    if (value === null || value === undefined) {
      throw new ConfigError(file, '', 'the file is empty: it needs a `targets:` list');
    }
    return value;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(
      file,
      '',
      `too many YAML aliases (more than ${MAX_ALIAS_COUNT}): write the blocks out`,
      { cause: error },
    );
  }
}

/** `targets[2].port` from ['targets', 2, 'port']. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) {
      out += out ? `.${key}` : key;
    } else out += `[${printable(JSON.stringify(String(key)))}]`;
  }
  return out || '(root)';
}

/**
 * `text` with everything outside printable ASCII written as `\uXXXX`: C0 and C1 controls
 * and DEL from a config file would otherwise reach the terminal that prints the error
 * (U+009B is the 8-bit CSI), and other characters could pass for ones they are not.
 */
export function printable(text: string): string {
  return text.replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Zod's default messages start like this; a message set in the schema does not. */
const DEFAULT_MESSAGE = /^(Invalid|Too (small|big)|Unrecognized|Expected)/;

function describeIssue(issue: z.core.$ZodIssue): { path: string; message: string } {
  const custom = DEFAULT_MESSAGE.test(issue.message) ? undefined : issue.message;
  const got = describeValue(issue.input);

  switch (issue.code) {
    case 'unrecognized_keys': {
      const key = issue.keys[0]!;
      const known = knownKeysAt(issue.path);
      const near = closest(key, known);
      const fix = near ? `did you mean "${near}"?` : `remove it (known keys: ${known.join(', ')})`;
      return { path: formatPath([...issue.path, key]), message: `unknown key: ${fix}` };
    }
    case 'invalid_type': {
      const path = formatPath(issue.path);
      if (lastKey(issue.path) === 'tls' && typeof issue.input === 'boolean') {
        return {
          path,
          message:
            'TLS cannot be turned off (IAM authentication requires it): remove `tls`, or set ' +
            'tls.ca to "rds" or a PEM file path',
        };
      }
      if (typeof issue.input === 'number' && !Number.isFinite(issue.input)) {
        return { path, message: `expected a finite number, got ${got}: write a plain number` };
      }
      if (issue.input === undefined) {
        return { path, message: `missing: ${custom ?? `add ${lastKey(issue.path)}`}` };
      }
      return { path, message: `${custom ?? `expected ${issue.expected}`}, got ${got}` };
    }
    case 'invalid_value':
      return {
        path: formatPath(issue.path),
        message: `${custom ?? `expected one of ${issue.values.map(String).join(', ')}`}, got ${got}`,
      };
    case 'invalid_key': {
      // A record key that fails its own check: zod wraps the key's message.
      const inner = issue.issues[0]?.message;
      const fix = inner && !DEFAULT_MESSAGE.test(inner) ? inner : 'rename or remove the key';
      return { path: formatPath(issue.path), message: `invalid key: ${fix}` };
    }
    case 'too_small':
    case 'too_big':
    case 'invalid_format':
      return {
        path: formatPath(issue.path),
        message: `${custom ?? issue.message.toLowerCase()}${isScalar(issue.input) ? `, got ${got}` : ''}`,
      };
    default:
      return { path: formatPath(issue.path), message: custom ?? issue.message };
  }
}

/** The keys an object accepts, by the name of the key that holds it. */
const SHAPES_BY_PARENT: Record<string, object> = {
  defaults: defaultsSchema.shape,
  settings: settingsSchema.shape,
  deploy: deploySchema.shape,
  targets: targetSchema.shape,
  tls: tlsSchema.shape,
  roles: roleHopSchema.shape,
};

function knownKeysAt(path: readonly PropertyKey[]): string[] {
  const parent = path.filter((k) => typeof k === 'string').at(-1);
  const shape = parent === undefined ? configFileSchema.shape : SHAPES_BY_PARENT[parent];
  return Object.keys(shape ?? {});
}

/** The known key within edit distance 2 (a typo), if any. */
function closest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

function lastKey(path: readonly PropertyKey[]): string {
  const key = path.at(-1);
  return typeof key === 'string' ? key : 'the value';
}

function isScalar(value: unknown): boolean {
  return ['string', 'number', 'boolean'].includes(typeof value);
}

/** A short, safe description of a bad value for an error message. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 37)}...` : value;
    return printable(JSON.stringify(redactText(shown)));
  }
  return `${typeof value} ${String(value)}`;
}

/** A UserInputError's message without its `path: ` prefix (ConfigError adds it back). */
function stripPath(error: UserInputError): string {
  return error.path && error.message.startsWith(`${error.path}: `)
    ? error.message.slice(error.path.length + 2)
    : error.message;
}
