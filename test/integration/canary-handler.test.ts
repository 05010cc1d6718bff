import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RoundReport } from '#shared/report/types.ts';
import { readSandboxEnv, sandboxFetch } from '../support/sandbox.ts';

const CONFIG = fileURLToPath(new URL('../../sandbox/canary.sandbox.yaml', import.meta.url));

/** An EventBridge scheduled event as Lambda delivers it. */
const SCHEDULED_EVENT = {
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '111111111111',
  time: '2026-12-04T12:00:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:events:eu-west-1:111111111111:rule/rds-iam-canary-dev-schedule'],
  detail: {},
};

const saved = { ...process.env };
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'canary-handler-'));
});

afterEach(async () => {
  process.env = { ...saved };
  vi.restoreAllMocks();
  vi.resetModules();
  await sandboxFetch('/reset', { method: 'POST' });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Imports a fresh copy of the handler (its module state is per cold start) with `env`. */
async function coldStart(env: Record<string, string>) {
  const sandbox = readSandboxEnv();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: sandbox.AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID: sandbox.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: sandbox.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: sandbox.AWS_REGION,
    ...env,
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  const lines: Record<string, unknown>[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    return true;
  });
  const { handler } = await import('../../functions/canary.ts');
  return { handler, lines };
}

function context(remainingMs: number) {
  const deadline = Date.now() + remainingMs;
  return {
    functionName: 'rds-iam-canary-dev-canary',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

describe('canary Lambda handler', () => {
  it('runs a round on a scheduled event, logs a line per target and returns the report', async () => {
    const { handler, lines } = await coldStart({
      CANARY_CONFIG: CONFIG,
      CANARY_ALERT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111111111111:rds-iam-canary-alerts',
    });

    const report = (await handler(SCHEDULED_EVENT, context(60_000) as never)) as RoundReport;

    expect(report.summary).toEqual({ total: 9, passed: 4, failed: 5 });
    const results = lines.filter((l) => l.event === 'check_result');
    expect(results.map((l) => l.target).sort()).toEqual(report.results.map((r) => r.target).sort());
    expect(results.every((l) => typeof l.total_ms === 'number' && 'outcome' in l)).toBe(true);
    expect(lines.find((l) => l.event === 'round_complete')).toMatchObject({
      total: 9,
      failed: 5,
      alerts_sent: 5,
      metrics_sent: 75,
    });
    expect(JSON.stringify(lines)).not.toContain(readSandboxEnv().AWS_SECRET_ACCESS_KEY);
  });

  it('reuses role sessions across warm invocations', async () => {
    // A session name of its own tells this test's STS calls from any other client's.
    const session = `handler-warm-${process.pid}-${Date.now()}`;
    const file = join(dir, 'chain.yaml');
    writeFileSync(
      file,
      `targets:
  - name: payments-cross-account
    engine: postgres
    host: payments-primary.c9z8y7x6w5v4.us-east-1.rds.amazonaws.com
    port: 15433
    database: payments
    user: canary_iam
    tls: { ca: ${readSandboxEnv().caPath} }
    roles:
      - { arn: "arn:aws:iam::111111111111:role/canary-hub", sessionName: ${session} }
      - arn: arn:aws:iam::222222222222:role/rds-connect
        externalId: canary-7f3a
        sessionName: ${session}
        sessionTags: { team: payments }
`,
    );
    const { handler } = await coldStart({ CANARY_CONFIG: file });
    const since = new Date().toISOString();

    const first = (await handler(SCHEDULED_EVENT, context(60_000) as never)) as RoundReport;
    const second = (await handler(SCHEDULED_EVENT, context(60_000) as never)) as RoundReport;

    expect([first.summary.passed, second.summary.passed]).toEqual([1, 1]);
    const calls = await sandboxFetch<{ action: string; params: Record<string, unknown> }[]>(
      `/calls?${new URLSearchParams({ service: 'sts', since })}`,
    );
    const assumed = calls.filter(
      (c) => c.action === 'AssumeRole' && c.params.RoleSessionName === session,
    );
    // canary-hub and rds-connect once each; the second invocation reuses both.
    expect(assumed).toHaveLength(2);
  });

  it('fails the invocation with a logged config error', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'targets:\n  - { name: a, engine: postgres, host: "x:1", user: u }\n');
    const { handler, lines } = await coldStart({ CANARY_CONFIG: file });

    await expect(handler(SCHEDULED_EVENT, context(60_000) as never)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      path: 'targets[0].host',
    });
    expect(lines.find((l) => l.event === 'config_invalid')).toMatchObject({
      level: 'error',
      config_path: file,
      error_code: 'INVALID_INPUT',
    });
  });
});
