/**
 * Reliability under faults, with real sockets on loopback: dropped packets, servers that hang
 * or hang up, names that do not resolve, slow queries, STS failing, CloudWatch and SNS gone,
 * and the Lambda deadline arriving mid-round. Each time: the right outcome per target, the
 * others unaffected, a report before the deadline, no figure or alert lost without a trace,
 * and no socket or timer left open.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runRound } from '#shared/check/run-round.ts';
import type { CanaryConfig } from '#shared/config/load-config.ts';
import { RoleSessionCache } from '#shared/credentials/assume-role-chain.ts';
import { createCloudWatchClient, createSnsClient } from '#shared/publish/aws-clients.ts';
import type { CheckResult, ResolvedTarget, RoundReport } from '#shared/report/types.ts';
import { type CanaryRun, runCanary } from '#shared/run-canary.ts';
import {
  closedPort,
  droppingPort,
  type FaultServer,
  scriptedServer,
} from '../support/network-faults.ts';
import {
  ALERT_TOPIC,
  awsCallsSince,
  canaryCredentials,
  capturingLogger,
  createDroppingNamespace,
  HUB_ROLE,
  injectFault,
  type LogLine,
  openHandleCount,
  openHandles,
  RDS_CONNECT_ROLE,
  useSandboxAwsEnv,
} from '../support/reliability.ts';
import { readSandboxEnv, sandboxTarget } from '../support/sandbox.ts';

const servers: FaultServer[] = [];
let restoreEnv: () => void = () => {};

/** Role sessions without GetCallerIdentity, so that only AssumeRole reaches STS. */
function sessionCache(): RoleSessionCache {
  return new RoleSessionCache({ identify: async () => 'arn:aws:iam::111111111111:user/canary' });
}

/** A cross-account chain; a session name of its own keeps other clients' calls apart. */
function chainTarget(name: string, session: string): ResolvedTarget {
  return sandboxTarget('payments', name, {
    roles: [
      { arn: HUB_ROLE, sessionName: session },
      {
        arn: RDS_CONNECT_ROLE,
        externalId: 'canary-7f3a',
        sessionName: session,
        sessionTags: { team: 'payments' },
      },
    ],
  });
}

/** A target that connects to a loopback fault server, as a PostgreSQL or MySQL endpoint. */
function faultTarget(
  name: string,
  port: number,
  engine: 'postgres' | 'mysql' = 'postgres',
  timeoutMs = 1500,
): ResolvedTarget {
  return sandboxTarget(engine === 'postgres' ? 'orders' : 'ledger', name, {
    host: '127.0.0.1',
    port,
    timeoutMs,
    tls: { ca: readSandboxEnv().caPath, serverName: 'localhost' },
  });
}

async function server(onConnection?: Parameters<typeof scriptedServer>[0]): Promise<FaultServer> {
  const s = await scriptedServer(onConnection);
  servers.push(s);
  return s;
}

/** Waits (bounded) until the open handles fall back to `baseline`; returns what is left. */
async function settleHandles(baseline: number): Promise<number> {
  try {
    await vi.waitFor(() => expect(openHandleCount()).toBeLessThanOrEqual(baseline), {
      timeout: 2000,
      interval: 20,
    });
  } catch {
    // The caller asserts on the count, with the kinds in the failure message.
  }
  return openHandleCount();
}

function byTarget(report: RoundReport): Record<string, CheckResult> {
  return Object.fromEntries(report.results.map((r) => [r.target, r]));
}

/** `OUTCOME CODE` per target (`CONNECTED <attempts>` on success), for one readable diff. */
function outcomes(report: RoundReport): Record<string, string> {
  return Object.fromEntries(
    report.results.map((r) => [r.target, `${r.outcome} ${r.error?.code ?? r.attempts}`]),
  );
}

function config(targets: ResolvedTarget[]): CanaryConfig {
  return {
    path: '/dev/null',
    targets,
    settings: { concurrency: 8, perEndpointConnectionsPerSecond: 20, roundTimeoutMs: 60_000 },
  };
}

beforeAll(() => {
  restoreEnv = useSandboxAwsEnv();
});

afterAll(() => {
  restoreEnv();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const service of ['sts', 'monitoring', 'sns']) await injectFault(service, 500, 0);
});

describe('network faults in one round', () => {
  it('gives each broken path its own outcome while healthy targets connect', async () => {
    const silent = await server();
    const hangup = await server((socket) => {
      // Accept TLS ('S'), then hang up on the ClientHello.
      socket.once('data', () => {
        socket.write('S');
        socket.once('data', () => socket.destroy());
      });
    });
    const mysqlHangup = await server((socket) => {
      // Half a greeting packet, then the connection ends.
      socket.write(Buffer.from([0x4a, 0x00, 0x00, 0x00, 0x0a, 0x38, 0x2e]));
      socket.end();
    });
    const dropping = await droppingPort();
    servers.push(dropping);
    const targets = [
      sandboxTarget('orders', 'orders-ok'),
      faultTarget('accepts-never-speaks', silent.port),
      faultTarget('closes-mid-tls', hangup.port),
      faultTarget('mysql-closes-mid-greeting', mysqlHangup.port, 'mysql'),
      faultTarget('syn-dropped', dropping.port),
      sandboxTarget('orders', 'name-unresolved', { host: 'orders-gone.invalid' }),
      sandboxTarget('orders', 'pg-slow-query', { query: 'SELECT pg_sleep(30)', timeoutMs: 1500 }),
      sandboxTarget('ledger', 'mysql-slow-query', { query: 'SELECT SLEEP(30)', timeoutMs: 1500 }),
      sandboxTarget('ledger', 'ledger-ok'),
    ];
    const baseline = openHandleCount();

    const report = await runRound(targets, {
      sessionCache: sessionCache(),
      credentials: canaryCredentials(),
    });

    expect(report.results.map((x) => x.target)).toEqual(targets.map((t) => t.name));
    for (const result of report.results) {
      // Every check stays inside its own budget (plus the straggler grace).
      expect(result.timings.totalMs).toBeLessThan(1500 + 1000);
    }
    expect(report.durationMs).toBeLessThan(4000);
    const left = await settleHandles(baseline);
    expect(left, JSON.stringify(openHandles())).toBeLessThanOrEqual(baseline);
    // Last, so that a wrong outcome does not hide the guarantees above.
    expect(outcomes(report)).toEqual({
      'orders-ok': 'CONNECTED 1',
      'accepts-never-speaks': 'CONNECT_TIMEOUT CONNECT_TIMEOUT',
      'closes-mid-tls': 'TLS_ERROR ECONNRESET',
      // Lost before the greeting, so before TLS was even offered: a connection-level failure.
      'mysql-closes-mid-greeting': 'DATABASE_ERROR PROTOCOL_CONNECTION_LOST',
      'syn-dropped': 'CONNECT_TIMEOUT CONNECT_TIMEOUT',
      'name-unresolved': 'DNS_ERROR ENOTFOUND',
      'pg-slow-query': 'QUERY_ERROR QUERY_TIMEOUT',
      'mysql-slow-query': 'QUERY_ERROR QUERY_TIMEOUT',
      'ledger-ok': 'CONNECTED 1',
    });
  });

  it('times out on a silently dropping route in a network namespace, others unaffected', () => {
    const ns = createDroppingNamespace();
    if (!ns) throw new Error('cannot create a network namespace here (needs root and `ip`)');
    try {
      const env = readSandboxEnv();
      const targets = [
        // 127.0.0.99 routes to a veth whose peer is down: the SYNs vanish.
        {
          ...faultTarget('route-drops', 15432, 'postgres', 2000),
          host: ns.droppedAddress,
          signingHost: ns.droppedAddress,
        },
        // Port 0: the child starts a TLS-refusing server on 127.0.0.1 inside the namespace.
        faultTarget('tls-refused-in-namespace', 0, 'postgres', 2000),
      ];

      const child = ns.run(
        [process.execPath, '--import', 'tsx', fileURLToPath(supportScript('netns-round.ts'))],
        JSON.stringify({ targets }),
        {
          CANARY_TEST_KEY_ID: env.AWS_ACCESS_KEY_ID,
          CANARY_TEST_SECRET: env.AWS_SECRET_ACCESS_KEY,
        },
      );

      expect(child.status, child.stderr).toBe(0);
      const out = JSON.parse(child.stdout) as {
        report: RoundReport;
        handlesBefore: number;
        handlesAfter: number;
      };
      const r = byTarget(out.report);
      expect(r['route-drops']).toMatchObject({ outcome: 'CONNECT_TIMEOUT', passed: false });
      expect(r['route-drops']!.timings.totalMs).toBeLessThan(2000 + 1000);
      expect(r['tls-refused-in-namespace']?.outcome).toBe('TLS_ERROR');
      expect(r['tls-refused-in-namespace']!.timings.totalMs).toBeLessThan(1000);
      expect(out.handlesAfter).toBeLessThan(out.handlesBefore);
    } finally {
      ns.remove();
    }
  });
});

describe('STS faults', () => {
  it('rides out an STS 500 with a retry; a target without roles is unaffected', async () => {
    const session = `faults-500-${process.pid}-${Date.now()}`;
    await injectFault('sts', 500, 1);
    const baseline = openHandleCount();

    const report = await runRound(
      [chainTarget('chain', session), sandboxTarget('orders', 'no-roles')],
      { sessionCache: sessionCache(), credentials: canaryCredentials() },
    );

    const r = byTarget(report);
    expect(r.chain).toMatchObject({ outcome: 'CONNECTED', passed: true, attempts: 2 });
    expect(r['no-roles']).toMatchObject({ outcome: 'CONNECTED', attempts: 1 });
    expect(await settleHandles(baseline), JSON.stringify(openHandles())).toBeLessThanOrEqual(
      baseline,
    );
  });

  it('reports THROTTLED for a chain when STS keeps throttling, and recovers next round', async () => {
    const session = `faults-throttle-${process.pid}-${Date.now()}`;
    const cache = sessionCache();
    await injectFault('sts', 400, 1000);
    const baseline = openHandleCount();

    const throttled = await runRound(
      [chainTarget('chain', session), sandboxTarget('ledger', 'no-roles')],
      { sessionCache: cache, credentials: canaryCredentials() },
    );
    await injectFault('sts', 400, 0);
    const recovered = await runRound([chainTarget('chain', session)], {
      sessionCache: cache,
      credentials: canaryCredentials(),
    });

    const r = byTarget(throttled);
    expect(r.chain).toMatchObject({ outcome: 'THROTTLED', error: { code: 'Throttling' } });
    expect(r.chain!.attempts).toBeGreaterThan(1);
    expect(r['no-roles']).toMatchObject({ outcome: 'CONNECTED', attempts: 1 });
    // A failed AssumeRole is never cached: the next round assumes again and connects.
    expect(recovered.results[0]).toMatchObject({ outcome: 'CONNECTED', attempts: 1 });
    expect(await settleHandles(baseline), JSON.stringify(openHandles())).toBeLessThanOrEqual(
      baseline,
    );
  });
});

describe('publishing faults', () => {
  const failing = () => sandboxTarget('orders', 'orders-wrong-region', { region: 'us-east-1' });

  async function publishRound(extraEnv: Record<string, string>, publishBudgetMs = 20_000) {
    const handlesBefore = openHandleCount();
    const restore = useSandboxAwsEnv(extraEnv);
    const cloudWatch = createCloudWatchClient();
    const sns = createSnsClient(ALERT_TOPIC);
    const { logger, events } = capturingLogger();
    const emf: string[] = [];
    const started = Date.now();
    try {
      const run = await runCanary(config([sandboxTarget('orders', 'orders-ok'), failing()]), {
        deadlineMs: Date.now() + 30_000,
        publishDeadlineMs: Date.now() + publishBudgetMs,
        logger,
        publish: {
          namespace: `RdsIamCanaryFaults${process.pid}`,
          cloudWatch,
          alerts: { topicArn: ALERT_TOPIC, sns },
          writeEmf: (line) => emf.push(line),
        },
        sessionCache: sessionCache(),
      });
      const elapsedMs = Date.now() - started;
      cloudWatch.destroy();
      sns.destroy();
      const handlesLeft = await settleHandles(handlesBefore);
      return { run, events: events(), emf, elapsedMs, handlesLeft, handlesBefore };
    } finally {
      cloudWatch.destroy();
      sns.destroy();
      restore();
    }
  }

  /** Publishing, failed or not, leaves no socket or timer behind once the clients are gone. */
  function expectNothingLeftOpen(result: { handlesLeft: number; handlesBefore: number }) {
    expect(result.handlesLeft, JSON.stringify(openHandles())).toBeLessThanOrEqual(
      result.handlesBefore,
    );
  }

  function expectEveryFigureInEmf(run: CanaryRun, emf: string[]) {
    const records = emf.map((l) => JSON.parse(l) as Record<string, unknown>);
    const values = records.reduce(
      (n, rec) =>
        n +
        ((rec._aws as { CloudWatchMetrics: { Metrics: unknown[] }[] }).CloudWatchMetrics[0]!.Metrics
          .length ?? 0),
      0,
    );
    expect(values).toBe(8 * 2 + 3);
    expect(run.metrics).toMatchObject({ sent: 0, fallbackValues: 8 * 2 + 3 });
    const targets = records.map((r) => r.Target).filter(Boolean);
    expect(new Set(targets)).toEqual(new Set(['orders-ok', 'orders-wrong-region']));
    expect(records.some((r) => r.Heartbeat === 1)).toBe(true);
    expect(
      records.find((r) => r.Target === 'orders-wrong-region' && 'CheckSuccess' in r)?.CheckSuccess,
    ).toBe(0);
  }

  function checkResultLines(events: LogLine[]) {
    return events.filter((e) => e.event === 'check_result').map((e) => e.target);
  }

  it('writes every figure as EMF when CloudWatch is unreachable, and still alerts', async () => {
    const since = new Date().toISOString();
    const port = await closedPort();

    const published = await publishRound({
      AWS_ENDPOINT_URL_CLOUDWATCH: `http://127.0.0.1:${port}`,
    });
    const { run, events, emf } = published;

    expectEveryFigureInEmf(run, emf);
    expect(events.find((e) => e.event === 'metrics_publish_failed')).toMatchObject({
      level: 'error',
      fallback: 'emf',
      values: 19,
    });
    expect(run.alerts).toEqual({ sent: 1, failed: 0 });
    const alerts = await awsCallsSince(since, 'sns', 'Publish');
    expect(alerts.some((c) => c.params.Subject?.includes('orders-wrong-region'))).toBe(true);
    expect(checkResultLines(events).sort()).toEqual(['orders-ok', 'orders-wrong-region']);
    expectNothingLeftOpen(published);
  });

  it('writes every figure as EMF when CloudWatch answers 500 to every retry', async () => {
    await injectFault('monitoring', 500, 100);

    const published = await publishRound({});
    const { run, events, emf } = published;

    expectEveryFigureInEmf(run, emf);
    expect(events.find((e) => e.event === 'metrics_publish_failed')?.error_code).toBe(
      'InternalFailure',
    );
    expectNothingLeftOpen(published);
  });

  it('logs each alert it could not send when SNS is unreachable; metrics still go out', async () => {
    const port = await closedPort();

    const published = await publishRound({ AWS_ENDPOINT_URL_SNS: `http://127.0.0.1:${port}` });
    const { run, events } = published;

    expect(run.alerts).toEqual({ sent: 0, failed: 1 });
    expect(run.metrics).toMatchObject({ sent: 19, fallbackValues: 0 });
    expect(events.find((e) => e.event === 'alert_publish_failed')).toMatchObject({
      level: 'error',
      target: 'orders-wrong-region',
      outcome: 'AUTH_REJECTED',
    });
    // The failed target is also on record in its own log line and the report.
    expect(checkResultLines(events)).toContain('orders-wrong-region');
    expect(run.report.summary).toEqual({ total: 2, passed: 1, failed: 1 });
    expectNothingLeftOpen(published);
  });

  it('cannot be held past its publish deadline by an SNS that never answers', async () => {
    const silent = await server();

    const published = await publishRound(
      { AWS_ENDPOINT_URL_SNS: `http://127.0.0.1:${silent.port}` },
      3000,
    );
    const { run, events, elapsedMs } = published;

    expect(run.alerts).toEqual({ sent: 0, failed: 1 });
    expect(events.some((e) => e.event === 'alert_publish_failed')).toBe(true);
    expect(elapsedMs).toBeLessThan(3000 + 1000);
    expectNothingLeftOpen(published);
  });
});

describe('the deadline arriving mid-round', () => {
  it('reports every target before the deadline: running ones cut, unstarted ones TIMEOUT', async () => {
    const silent = await server();
    const hung = Array.from({ length: 6 }, (_, i) =>
      faultTarget(`hung-${i}`, silent.port, 'postgres', 10_000),
    );
    const deadline = Date.now() + 1500;
    const baseline = openHandleCount();

    const report = await runRound(hung, {
      deadlineMs: deadline,
      concurrency: 2,
      sessionCache: sessionCache(),
      credentials: canaryCredentials(),
    });

    expect(Date.now()).toBeLessThan(deadline + 300);
    expect(report.results.map((r) => r.target)).toEqual(hung.map((t) => t.name));
    const started = report.results.filter((r) => r.attempts > 0);
    const unstarted = report.results.filter((r) => r.attempts === 0);
    expect(started.length).toBeGreaterThanOrEqual(2);
    // Cut at the deadline while the server stayed silent.
    for (const r of started) expect(['CONNECT_TIMEOUT', 'TIMEOUT']).toContain(r.outcome);
    expect(unstarted.length).toBeGreaterThan(0);
    for (const r of unstarted) {
      expect(r).toMatchObject({ outcome: 'TIMEOUT', error: { code: 'ROUND_DEADLINE' } });
    }
    expect(report.summary).toEqual({ total: 6, passed: 0, failed: 6 });
    const left = await settleHandles(baseline);
    expect(left, JSON.stringify(openHandles())).toBeLessThanOrEqual(baseline);
  });

  describe('in the Lambda handler', () => {
    let dir: string;
    const saved = { ...process.env };

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'faults-lambda-'));
    });

    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    afterEach(() => {
      process.env = { ...saved };
      vi.restoreAllMocks();
      vi.resetModules();
    });

    /** Imports a fresh copy of a handler (module state is per cold start), stdout captured. */
    async function coldStart(path: string, env: Record<string, string>) {
      const restore = useSandboxAwsEnv(env);
      const lines: LogLine[] = [];
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        for (const line of String(chunk).split('\n').filter(Boolean)) {
          lines.push(JSON.parse(line) as LogLine);
        }
        return true;
      });
      const module = (await import(path)) as {
        handler: (event: unknown, context: unknown) => Promise<unknown>;
      };
      return { handler: module.handler, lines, restore };
    }

    it('runs its round whatever the event holds', async () => {
      const env = readSandboxEnv();
      const orders = sandboxTarget('orders', 'x');
      const file = join(dir, 'one.yaml');
      writeFileSync(
        file,
        `targets:
  - { name: orders-ok, engine: postgres, host: ${orders.host}, port: ${orders.port},
      database: orders, user: canary_iam, tls: { ca: ${env.caPath} } }
`,
      );
      const { handler, restore } = await coldStart('../../functions/canary.ts', {
        CANARY_CONFIG: file,
      });
      const context = { getRemainingTimeInMillis: () => 30_000 };
      const events: unknown[] = [
        null,
        'not an object',
        42,
        [1, 2, 3],
        { 'detail-type': 'Scheduled Event', source: 'aws.events', detail: 'x'.repeat(2 ** 20) },
        Object.create(null),
      ];

      const reports: RoundReport[] = [];
      try {
        for (const event of events) reports.push((await handler(event, context)) as RoundReport);
      } finally {
        restore();
      }

      expect(reports.map((r) => r.results[0]?.outcome)).toEqual(events.map(() => 'CONNECTED'));
    });

    it('refuses a malformed smoke event with a clear error before any check', async () => {
      const { handler, lines, restore } = await coldStart('../../functions/smoke.ts', {
        CANARY_CONFIG: fileURLToPath(new URL('../../sandbox/canary.sandbox.yaml', import.meta.url)),
      });
      const context = { getRemainingTimeInMillis: () => 30_000 };
      const events: unknown[] = [
        'not an object',
        42,
        [1, 2, 3],
        { targets: 'orders-primary' },
        { targets: [1, null] },
        { targets: ['no-such-target'] },
        { targets: ['x'.repeat(2 ** 20)] },
        { unexpected: true },
        { source: 'aws.cloudformation', 'detail-type': 'Something Else' },
      ];

      const errors: unknown[] = [];
      try {
        for (const event of events) errors.push(await handler(event, context).catch((e) => e));
      } finally {
        restore();
      }

      for (const error of errors) {
        expect(error).toMatchObject({ code: 'INVALID_INPUT' });
        expect((error as { path: string }).path).toMatch(/^event/);
      }
      expect(lines.filter((l) => l.event === 'smoke_refused')).toHaveLength(events.length);
      expect(lines.some((l) => l.event === 'check_result')).toBe(false);
    });

    it('returns a full report and publishes before the Lambda deadline with hung servers', async () => {
      const silent = await server();
      const env = readSandboxEnv();
      const orders = sandboxTarget('orders', 'x');
      const file = join(dir, 'hung.yaml');
      const hung = Array.from(
        { length: 4 },
        (_, i) => `  - { name: hung-${i}, engine: postgres, host: 127.0.0.1, port: ${silent.port},
      user: canary_iam, timeoutMs: 20000, tls: { ca: ${env.caPath}, serverName: localhost } }`,
      );
      writeFileSync(
        file,
        `settings: { concurrency: 8 }
targets:
  - { name: orders-ok, engine: postgres, host: ${orders.host}, port: ${orders.port},
      database: orders, user: canary_iam, tls: { ca: ${env.caPath} } }
${hung.join('\n')}
`,
      );
      const restore = useSandboxAwsEnv({
        CANARY_CONFIG: file,
        CANARY_ALERT_TOPIC_ARN: ALERT_TOPIC,
      });
      const lines: LogLine[] = [];
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        for (const line of String(chunk).split('\n').filter(Boolean)) {
          lines.push(JSON.parse(line) as LogLine);
        }
        return true;
      });
      const { handler } = await import('../../functions/canary.ts');
      const remainingMs = 12_000;
      const lambdaDeadline = Date.now() + remainingMs;
      const context = { getRemainingTimeInMillis: () => lambdaDeadline - Date.now() };

      let report: RoundReport;
      try {
        report = (await handler({}, context as never)) as RoundReport;
      } finally {
        restore();
      }

      expect(Date.now()).toBeLessThan(lambdaDeadline);
      expect(report.summary).toEqual({ total: 5, passed: 1, failed: 4 });
      const r = byTarget(report);
      expect(r['orders-ok']?.outcome).toBe('CONNECTED');
      for (let i = 0; i < 4; i++) {
        // Cut at the round deadline (2 s here) while the server stayed silent.
        expect(['CONNECT_TIMEOUT', 'TIMEOUT']).toContain(r[`hung-${i}`]?.outcome);
      }
      expect(lines.filter((l) => l.event === 'check_result')).toHaveLength(5);
      expect(lines.find((l) => l.event === 'round_complete')).toMatchObject({
        metrics_sent: 8 * 5 + 3,
        alerts_sent: 4,
      });
    });
  });
});

function supportScript(name: string): URL {
  return new URL(`../support/${name}`, import.meta.url);
}
