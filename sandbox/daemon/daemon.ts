import { mkdirSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { join } from 'node:path';
import type { Fixture } from '#sandbox/fixture-schema.ts';
import type { CallRecord, DaemonContext } from './context.ts';
import { CredentialAuthority } from './credentials.ts';
import { FaultInjector } from './faults.ts';
import { createAwsHttpServer } from './http-server.ts';
import { JsonlLog } from './jsonl-log.ts';
import { cloudWatchService } from './services/cloudwatch.ts';
import { iamService } from './services/iam.ts';
import { logsService } from './services/logs.ts';
import { rdsService } from './services/rds.ts';
import { snsService } from './services/sns.ts';
import { stsService } from './services/sts.ts';
import { ConnectionThrottle } from './throttle.ts';
import { startVerifierSocket } from './verifier-socket.ts';
import { type Decision, TokenVerifier } from './verify-token.ts';
import { World } from './world.ts';

/**
 * Starts the daemon's two servers on a state directory: the token verifier's Unix socket
 * (STATE/run/verifier.sock) and the local AWS endpoint (HTTP on 127.0.0.1). Used by
 * main.ts and, in-process, by tests.
 */

export interface DaemonOptions {
  stateDir: string;
  fixture: Fixture;
  masterKeyHex: string;
  /** The HTTP port; the fixture's aws.port when left out, 0 for any free port. */
  awsPort?: number;
  /** Epoch ms; Date.now when left out. */
  now?: () => number;
}

export interface RunningDaemon {
  context: DaemonContext;
  verifier: TokenVerifier;
  socketPath: string;
  awsPort: number;
  close(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const runDir = join(options.stateDir, 'run');
  const logDir = join(options.stateDir, 'log');
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  mkdirSync(logDir, { recursive: true, mode: 0o755 });

  const world = new World(options.fixture);
  const context: DaemonContext = {
    world,
    credentials: new CredentialAuthority(
      options.masterKeyHex,
      options.fixture.users.map((u) => u.arn),
    ),
    throttle: new ConnectionThrottle(),
    faults: new FaultInjector(),
    decisionLog: new JsonlLog<Decision>(join(logDir, 'decisions.jsonl')),
    callLog: new JsonlLog<CallRecord>(join(logDir, 'aws-calls.jsonl')),
    now: options.now ?? Date.now,
  };
  const verifier = new TokenVerifier({
    world,
    credentials: context.credentials,
    throttle: context.throttle,
    now: context.now,
  });

  const socketPath = join(runDir, 'verifier.sock');
  const socket = await startVerifierSocket(socketPath, (request) => {
    const decision = verifier.verify(request);
    context.decisionLog.append(decision);
    return decision;
  });

  let http: HttpServer;
  try {
    http = createAwsHttpServer(context, [
      stsService,
      cloudWatchService,
      snsService,
      rdsService,
      iamService,
      logsService,
    ]);
    await listen(http, options.awsPort ?? options.fixture.aws.port);
  } catch (error) {
    await closeServer(socket);
    closeLogs(context);
    throw error;
  }

  const address = http.address();
  const awsPort = typeof address === 'object' && address ? address.port : 0;
  return {
    context,
    verifier,
    socketPath,
    awsPort,
    async close() {
      http.closeAllConnections();
      await Promise.all([closeServer(http), closeServer(socket)]);
      closeLogs(context);
    },
  };
}

function listen(server: HttpServer, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: HttpServer | NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function closeLogs(context: DaemonContext): void {
  context.decisionLog.close();
  context.callLog.close();
}
