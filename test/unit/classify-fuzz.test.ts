/**
 * Hostile input to the failure classifier and to everything that renders a result for the
 * outside world (alert subject and attributes, metric dimensions, EMF lines, log lines):
 * arbitrary thrown values, error-like records with random codes, hostile objects, and
 * target names with control characters or thousands of characters.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyFailure } from '#shared/check/classify-failure.ts';
import { runRound } from '#shared/check/run-round.ts';
import { ConfigError } from '#shared/config/config-error.ts';
import { parseConfig } from '#shared/config/load-config.ts';
import { RoleSessionCache } from '#shared/credentials/assume-role-chain.ts';
import { formatLine } from '#shared/log/logger.ts';
import { formatEmfLines } from '#shared/publish/emf.ts';
import { formatAlert } from '#shared/publish/format-alert.ts';
import { buildMetricData } from '#shared/publish/report-metrics.ts';
import { renderTable } from '#shared/report/render-table.ts';
import {
  type CheckResult,
  OUTCOMES,
  type ResolvedTarget,
  type RoundReport,
} from '#shared/report/types.ts';

/** Generated inputs per property; the README's figure is the sum over this file. */
const RUNS = 500;

const PHASES = ['credentials', 'assume-role', 'token', 'connect', 'query', 'check', 'other'];
const CODES = [
  '28000',
  '28P01',
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'ECONNRESET',
  'CONNECT_TIMEOUT',
  'CHECK_TIMEOUT',
  'Throttling',
  'AccessDenied',
  'ER_ACCESS_DENIED_ERROR',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'MYSQL_CLEAR_PASSWORD_NOT_ENABLED',
];

const errorLike = fc.record(
  {
    code: fc.oneof(fc.constantFrom(...CODES), fc.string(), fc.integer(), fc.anything()),
    name: fc.oneof(fc.constantFrom('Error', 'TypeError', 'ThrottlingException'), fc.anything()),
    phase: fc.oneof(fc.constantFrom(...PHASES), fc.anything()),
    progress: fc.oneof(fc.constantFrom('none', 'tcp', 'tls', 'authenticated'), fc.anything()),
    sqlState: fc.oneof(fc.constantFrom('28000', '3D000', ''), fc.anything()),
    errno: fc.oneof(fc.constantFrom(1045, 1698, 1049, -111), fc.double(), fc.anything()),
    httpStatus: fc.oneof(fc.integer({ min: 100, max: 599 }), fc.anything()),
    $metadata: fc.oneof(fc.record({ httpStatusCode: fc.anything() }), fc.anything()),
    message: fc.oneof(fc.string({ unit: 'binary', maxLength: 3000 }), fc.anything()),
  },
  { requiredKeys: [] },
);

function expectWellFormed(value: unknown): void {
  const c = classifyFailure(value);
  expect(OUTCOMES).toContain(c.outcome);
  expect(c.outcome).not.toBe('CONNECTED');
  expect(typeof c.code).toBe('string');
  expect(c.code.length).toBeGreaterThan(0);
  expect(typeof c.message).toBe('string');
  expect(c.message.length).toBeLessThanOrEqual(500);
  expect(typeof c.transient).toBe('boolean');
}

describe('classifyFailure', () => {
  it('classifies any thrown value into a known outcome without throwing', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withMap: true, withSet: true }), (value) => {
        expectWellFormed(value);
      }),
      { numRuns: RUNS },
    );
  });

  it('classifies error-like records with any codes, phases and statuses', () => {
    fc.assert(
      fc.property(errorLike, (fields) => {
        expectWellFormed(fields);
        expectWellFormed(Object.assign(new Error('x'), fields));
      }),
      { numRuns: RUNS },
    );
  });

  it('decides by code, never by message text', () => {
    fc.assert(
      fc.property(
        errorLike,
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.string({ unit: 'binary', maxLength: 300 }),
        (fields, a, b) => {
          const first = classifyFailure({ ...fields, message: a });
          const second = classifyFailure({ ...fields, message: b });
          expect([first.outcome, first.code, first.transient]).toEqual([
            second.outcome,
            second.code,
            second.transient,
          ]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('keeps token material out of the message it returns', () => {
    const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
    fc.assert(
      fc.property(hex, fc.string({ maxLength: 50 }), (signature, around) => {
        const token =
          'db.example:5432/?Action=connect&DBUser=u&X-Amz-Algorithm=AWS4-HMAC-SHA256' +
          `&X-Amz-Credential=ASIAEXAMPLE%2F20261204%2Feu-west-1%2Frds-db%2Faws4_request` +
          `&X-Amz-Security-Token=${'A'.repeat(200)}&X-Amz-Signature=${signature}`;

        const c = classifyFailure({ phase: 'connect', code: '28000', message: around + token });

        expect(c.message).not.toContain(signature);
        expect(c.message).not.toContain('A'.repeat(200));
      }),
      { numRuns: RUNS },
    );
  });

  it('survives hostile objects: throwing getters, proxies, null prototypes', () => {
    const throwing = hostileObject();
    const getter = Object.defineProperty({}, 'code', {
      get() {
        throw new Error('boom');
      },
    });

    for (const value of [Object.create(null), getter, throwing]) expectWellFormed(value);
  });
});

/** An object every property read of which throws, String(it) included. */
function hostileObject(): object {
  return new Proxy(
    {},
    {
      get() {
        throw new Error('boom');
      },
      has() {
        throw new Error('boom');
      },
    },
  );
}

/** A failed result for a target named `name`, as the round would report it. */
function failedResult(name: string, tags: Record<string, string> = {}): CheckResult {
  return {
    target: name,
    engine: 'postgres',
    endpoint: 'db.example:5432',
    region: 'eu-west-1',
    principal: null,
    expect: 'connect',
    outcome: 'AUTH_REJECTED',
    passed: false,
    attempts: 2,
    timings: { assumeRoleMs: 0, tokenMs: 1, connectMs: 2, queryMs: 0, totalMs: 3 },
    tokenAgeSeconds: 0,
    error: { code: '28000', message: `PAM authentication failed for user "${name}"` },
    diagnosis: [],
    tags,
  };
}

const hostileName = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'binary-ascii', minLength: 100, maxLength: 10_000 }),
  fc.constantFrom('', ' ', '\n\r\t', '\x1b[31mred', '\u009b31m', 'a'.repeat(256), '😀'.repeat(80)),
);

describe('rendering a result with a hostile target name', () => {
  it('keeps the alert subject printable ASCII under 100 characters', () => {
    fc.assert(
      fc.property(hostileName, fc.string({ unit: 'binary', maxLength: 100 }), (name, severity) => {
        const alert = formatAlert(failedResult(name, { severity }));

        expect(alert.subject).toMatch(/^[\x20-\x7e]*$/);
        expect(alert.subject.length).toBeLessThan(100);
        for (const value of Object.values(alert.attributes)) {
          expect(value).toMatch(/^[\x20-\x7e]+$/);
          expect(value.length).toBeLessThanOrEqual(256);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('writes each log and EMF record as one line of valid JSON', () => {
    fc.assert(
      fc.property(hostileName, (name) => {
        const report: RoundReport = {
          startedAt: new Date(0).toISOString(),
          durationMs: 1,
          summary: { total: 1, passed: 0, failed: 1 },
          results: [failedResult(name)],
        };

        const lines = [
          formatLine({ event: 'check_result', target: name }),
          ...formatEmfLines('RdsIamCanary', buildMetricData(report)),
        ];

        for (const line of lines) {
          expect(line).not.toMatch(/[\n\r]/);
          expect(() => JSON.parse(line)).not.toThrow();
        }
        expect(() => renderTable(report)).not.toThrow();
      }),
      { numRuns: RUNS },
    );
  });

  it('gives a metric dimension of 1-255 characters for every name the config accepts', () => {
    const name = fc.oneof(hostileName, fc.stringMatching(/^[A-Za-z0-9._-]{1,80}$/));
    fc.assert(
      fc.property(name, (candidate) => {
        if (!acceptedByConfig(candidate)) return;

        const data = buildMetricData({
          startedAt: new Date(0).toISOString(),
          durationMs: 1,
          summary: { total: 1, passed: 0, failed: 1 },
          results: [failedResult(candidate)],
        });

        for (const datum of data) {
          for (const value of Object.values(datum.dimensions)) {
            expect(value.length).toBeGreaterThan(0);
            expect(value.length).toBeLessThanOrEqual(255);
            expect(value).toMatch(/^[\x20-\x7e]+$/);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

function acceptedByConfig(name: string): boolean {
  const text = JSON.stringify({
    targets: [{ name, engine: 'postgres', host: 'db.example.com', user: 'u', region: 'eu-west-1' }],
  });
  try {
    parseConfig(text, { file: '/config-fuzz/canary.yaml', env: {}, checkFiles: false });
    return true;
  } catch (error) {
    if (error instanceof ConfigError) return false;
    throw error;
  }
}

describe('a round with hostile names and crashing checks', () => {
  it('reports every target once, whatever the others do', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            name: hostileName,
            behaviour: fc.constantFrom(
              'pass',
              'throw',
              'throw-non-error',
              'reject-weird',
              'throw-hostile',
            ),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        async (specs) => {
          const targets = specs.map(
            (s, i): ResolvedTarget => ({
              name: s.name,
              engine: 'postgres',
              host: `db${i}.example`,
              port: 5432,
              user: 'u',
              region: 'eu-west-1',
              signingHost: `db${i}.example`,
              signingPort: 5432,
              roles: [],
              expect: 'connect',
              query: 'SELECT 1',
              timeoutMs: 1000,
              tls: { ca: 'rds' },
              tags: {},
            }),
          );

          const report = await runRound(targets, {
            sessionCache: new RoleSessionCache(),
            credentials: async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' }),
            check: async (target) => {
              const spec = specs[targets.indexOf(target)]!;
              if (spec.behaviour === 'throw') throw new Error(`boom ${target.name}`);
              if (spec.behaviour === 'throw-non-error') throw { weird: target.name };
              if (spec.behaviour === 'reject-weird') return Promise.reject(null);
              if (spec.behaviour === 'throw-hostile') throw hostileObject();
              return { ...failedResult(target.name), outcome: 'CONNECTED', passed: true };
            },
          });

          expect(report.results).toHaveLength(targets.length);
          report.results.forEach((r, i) => {
            expect(r.target).toBe(targets[i]!.name);
            expect(r.passed).toBe(specs[i]!.behaviour === 'pass');
          });
          expect(report.summary.total).toBe(targets.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});
