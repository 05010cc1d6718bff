/**
 * Hostile input to the config loader and the Lambda event parsers: arbitrary YAML and JSON
 * values, alias bombs, huge files, deep nesting, control characters and very long names.
 * Each must end in a clear ConfigError / UserInputError (a path, one line) or a valid config,
 * never another exception, a hang or a crash.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '#shared/config/config-error.ts';
import { loadConfig, MAX_CONFIG_BYTES, parseConfig } from '#shared/config/load-config.ts';
import { TARGET_NAME_PATTERN } from '#shared/config/schema.ts';
import { UserInputError } from '#shared/errors.ts';
import { parseSmokeEvent } from '#shared/smoke/parse-smoke-event.ts';

/** Generated inputs per property; the README's figure is the sum over this file. */
const RUNS = 300;

let dir: string;
const file = () => join(dir, 'canary.yaml');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'config-fuzz-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Parses `text`; returns 'ok' or the ConfigError; any other throw fails the property. */
function outcomeOf(text: string): 'ok' | ConfigError {
  try {
    parseConfig(text, { file: file(), env: { AWS_REGION: 'eu-west-1' }, checkFiles: false });
    return 'ok';
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

/** A clear error: one line, printable, bounded, naming a file. */
function expectClearError(error: ConfigError): void {
  expect(error.code).toBe('INVALID_INPUT');
  expect(error.file).toBe(file());
  // C0 and C1 controls and DEL: a terminal may act on them (U+009B is CSI).
  expect(error.message).not.toMatch(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/);
  expect(error.message.length).toBeLessThan(600);
}

const VALID_TARGET = {
  name: 'orders',
  engine: 'postgres',
  host: 'orders.c1a2b3.eu-west-1.rds.amazonaws.com',
  user: 'canary_iam',
};

describe('arbitrary documents', () => {
  it('ends every JSON value in a valid config or a clear ConfigError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const outcome = outcomeOf(JSON.stringify(value) ?? 'null');
        if (outcome !== 'ok') expectClearError(outcome);
      }),
      { numRuns: RUNS },
    );
  });

  it('ends every string of text (full Unicode, control characters) the same way', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        const outcome = outcomeOf(text);
        if (outcome !== 'ok') expectClearError(outcome);
      }),
      { numRuns: RUNS },
    );
  });

  it('ends a config whose target fields hold arbitrary values the same way', () => {
    const field = fc.constantFrom(
      'name',
      'engine',
      'host',
      'port',
      'user',
      'region',
      'roles',
      'tls',
      'tags',
      'timeoutMs',
      'expect',
      'signingHost',
      'query',
    );
    fc.assert(
      fc.property(fc.dictionary(field, fc.jsonValue({ maxDepth: 3 })), (overrides) => {
        const text = JSON.stringify({ targets: [{ ...VALID_TARGET, ...overrides }] });
        const outcome = outcomeOf(text);
        if (outcome !== 'ok') expectClearError(outcome);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('target names (metric dimensions, alert subjects, log fields)', () => {
  it('accepts only names that render safely, refusing the rest at targets[0].name', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.string({ unit: 'binary-ascii', minLength: 60, maxLength: 5000 }),
          fc.stringMatching(/^[A-Za-z0-9._-]{1,80}$/),
        ),
        (name) => {
          const outcome = outcomeOf(JSON.stringify({ targets: [{ ...VALID_TARGET, name }] }));
          if (outcome === 'ok') {
            // A CloudWatch dimension value is 1-255 characters; an SNS subject is ASCII.
            expect(name).toMatch(TARGET_NAME_PATTERN);
            expect(name.length).toBeLessThanOrEqual(255);
          } else {
            expectClearError(outcome);
            expect(outcome.path).toBe('targets[0].name');
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it.each([
    ['DEL', 'orders\x7f'],
    ['a C1 CSI sequence', 'orders\u009b31m'],
    ['an escape sequence', 'orders\x1b[31m'],
  ])('refuses a name with %s and prints the value escaped', (_what, name) => {
    const outcome = outcomeOf(JSON.stringify({ targets: [{ ...VALID_TARGET, name }] }));

    expect(outcome).toBeInstanceOf(ConfigError);
    expectClearError(outcome as ConfigError);
  });
});

describe('resource exhaustion', () => {
  it('refuses a billion-laughs alias bomb quickly', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const next = String.fromCharCode(97 + i);
      lines.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    lines.push('targets: *j');
    const started = performance.now();

    const outcome = outcomeOf(lines.join('\n'));

    expect(outcome).toBeInstanceOf(ConfigError);
    expectClearError(outcome as ConfigError);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses a file over 1 MiB before parsing it', () => {
    const path = file();
    const target = `  - { name: t, engine: postgres, host: db.example.com, user: u }\n`;
    writeFileSync(path, `targets:\n${target.repeat(Math.ceil((1.5 * 2 ** 20) / target.length))}`);
    const started = performance.now();

    const attempt = () => loadConfig(path, {});

    expect(attempt).toThrow(ConfigError);
    expect(MAX_CONFIG_BYTES).toBe(2 ** 20);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it.each([
    ['flow sequences', (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`],
    ['flow mappings', (n: number) => `${'{a: '.repeat(n)}1${'}'.repeat(n)}`],
    [
      'block mappings',
      (n: number) =>
        `${Array.from({ length: n }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1`,
    ],
    ['JSON arrays', (n: number) => `{"targets": ${'['.repeat(n)}${']'.repeat(n)}}`],
  ])('refuses deep nesting (%s, 5000 levels) with a clear error', (_kind, make) => {
    const outcome = outcomeOf(make(5000));

    expect(outcome).toBeInstanceOf(ConfigError);
    expectClearError(outcome as ConfigError);
  });
});

describe('malformed Lambda events', () => {
  it('parses every smoke event into a request or a UserInputError naming the field', () => {
    const eventLike = fc.oneof(
      fc.anything({ maxDepth: 4 }),
      fc.record(
        {
          source: fc.oneof(fc.constant('aws.cloudformation'), fc.string()),
          'detail-type': fc.oneof(fc.constant('CloudFormation Stack Status Change'), fc.string()),
          detail: fc.anything({ maxDepth: 3 }),
        },
        { requiredKeys: [] },
      ),
      fc.record({ targets: fc.anything({ maxDepth: 2 }) }),
      fc.record({ targets: fc.array(fc.string({ unit: 'binary', maxLength: 200 })) }),
    );
    fc.assert(
      fc.property(eventLike, (event) => {
        try {
          const request = parseSmokeEvent(event);
          expect(['direct', 'stack', 'schedule']).toContain(request.trigger);
        } catch (error) {
          expect(error).toBeInstanceOf(UserInputError);
          expect((error as UserInputError).path).toMatch(/^event/);
          expect((error as Error).message).not.toMatch(/[\x00-\x08\x0a-\x1f]/);
        }
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it.each([
    ['a huge targets list', { targets: Array.from({ length: 100_000 }, (_, i) => `t${i}`) }],
    ['a 1 MiB target name', { targets: ['x'.repeat(2 ** 20)] }],
  ])('refuses %s without a crash', (_what, event) => {
    const attempt = () => parseSmokeEvent(event);

    expect(attempt).toThrow(UserInputError);
  });
});
