/**
 * What the reliability tests (faults, load, secrets) share: targets built for the sandbox's
 * instances, the canary's own credentials, a logger that keeps every line, the admin API's
 * call log and fault injection, and a count of the process's open sockets and timers.
 */
import { spawnSync } from 'node:child_process';
import { createLogger, type Logger } from '#shared/log/logger.ts';
import { readSandboxEnv, sandboxFetch } from './sandbox.ts';

export const HUB_ROLE = 'arn:aws:iam::111111111111:role/canary-hub';
export const RDS_CONNECT_ROLE = 'arn:aws:iam::222222222222:role/rds-connect';
export const ALERT_TOPIC = 'arn:aws:sns:eu-west-1:111111111111:rds-iam-canary-alerts';

const AWS_KEYS = ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'];

/** The canary IAM user's keys, as a credentials provider (what the default chain would find). */
export function canaryCredentials() {
  const env = readSandboxEnv();
  return async () => ({
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
  });
}

/**
 * Points the AWS SDK at the sandbox (AWS_ENDPOINT_URL, keys, region); returns the undo. Any
 * `extra` variables (e.g. AWS_ENDPOINT_URL_CLOUDWATCH) are set too and undone with the rest.
 */
export function useSandboxAwsEnv(extra: Record<string, string> = {}): () => void {
  const env = readSandboxEnv() as unknown as Record<string, string>;
  const keys = [...AWS_KEYS, ...Object.keys(extra), 'AWS_SESSION_TOKEN', 'AWS_PROFILE'];
  const saved = new Map(keys.map((k) => [k, process.env[k]]));
  for (const key of AWS_KEYS) process.env[key] = env[key];
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  Object.assign(process.env, extra);
  return () => {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

/** A logger that keeps every line it writes (parsed), at debug level. */
export function capturingLogger(): { logger: Logger; lines: string[]; events: () => LogLine[] } {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', sink: (line) => lines.push(line) });
  return { logger, lines, events: () => lines.map((l) => JSON.parse(l) as LogLine) };
}

export interface LogLine {
  event: string;
  level: string;
  [key: string]: unknown;
}

/** One AWS API call as the sandbox recorded it (secrets already redacted by the daemon). */
export interface AwsCall {
  time: string;
  service: string;
  action: string;
  params: Record<string, string>;
  outcome?: string;
  errorCode?: string;
  status?: number;
  principal?: string;
}

export function awsCallsSince(since: string, service?: string, action?: string) {
  const query = new URLSearchParams({ since });
  if (service) query.set('service', service);
  if (action) query.set('action', action);
  return sandboxFetch<AwsCall[]>(`/calls?${query}`);
}

/** The next `count` calls to `service` (sts, monitoring, sns) answer `status`; 0 clears it. */
export async function injectFault(service: string, status: number, count: number): Promise<void> {
  await sandboxFetch('/faults', { method: 'POST', body: { service, status, count } });
}

/**
 * Open sockets, servers and ref'd timers of this process by kind (from
 * process.getActiveResourcesInfo), the kinds a check could leak.
 */
export function openHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (!/TCP|Pipe|TLS|Timeout|GetAddrInfo|Socket/.test(kind)) continue;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/** Total of openHandles(). */
export function openHandleCount(): number {
  return Object.values(openHandles()).reduce((a, b) => a + b, 0);
}

/**
 * A private network namespace whose only route to 127.0.0.99 goes to a veth whose peer is
 * down: SYNs sent there are silently dropped, as behind a security group that drops. Nothing
 * leaves the namespace; 127.0.0.1 inside it works as usual. `run` executes a command in it.
 * Returns undefined when namespaces cannot be made here (not root, no `ip`, no veth).
 */
export function createDroppingNamespace():
  | {
      name: string;
      droppedAddress: string;
      run: (command: string[], input?: string, env?: Record<string, string>) => RunResult;
      remove: () => void;
    }
  | undefined {
  const name = `rdsiam-faults-${process.pid}`;
  const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });
  const inside = (...args: string[]) => ip('netns', 'exec', name, ...args);

  if (ip('netns', 'add', name).status !== 0) return undefined;
  const remove = () => {
    ip('netns', 'del', name);
  };
  const steps: string[][] = [
    ['ip', 'link', 'set', 'lo', 'up'],
    ['ip', 'link', 'add', 'drop0', 'type', 'veth', 'peer', 'name', 'drop1'],
    ['ip', 'link', 'set', 'drop0', 'up'],
    ['sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1'],
    ['sysctl', '-qw', 'net.ipv4.conf.drop0.route_localnet=1'],
    // Only 127.0.0.1 stays local; 127.0.0.99 is routed to the dead veth.
    ['ip', 'route', 'del', 'local', '127.0.0.0/8', 'dev', 'lo', 'table', 'local'],
    ['ip', 'route', 'replace', 'local', '127.0.0.1', 'dev', 'lo', 'table', 'local'],
    ['ip', 'route', 'add', '127.0.0.99/32', 'dev', 'drop0', 'src', '127.0.0.1'],
  ];
  for (const step of steps) {
    if (inside(...step).status !== 0) {
      remove();
      return undefined;
    }
  }

  return {
    name,
    droppedAddress: '127.0.0.99',
    run: (command, input, env) => {
      const result = spawnSync('ip', ['netns', 'exec', name, ...command], {
        encoding: 'utf8',
        input,
        timeout: 60_000,
        env: { ...process.env, ...env },
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    remove,
  };
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}
