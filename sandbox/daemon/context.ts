import type { CredentialAuthority } from './credentials.ts';
import type { FaultInjector } from './faults.ts';
import type { JsonlLog } from './jsonl-log.ts';
import type { ConnectionThrottle } from './throttle.ts';
import type { Decision } from './verify-token.ts';
import type { World } from './world.ts';

/** One line of STATE/log/aws-calls.jsonl. Parameters are redacted of secrets. */
export interface CallRecord {
  time: string;
  requestId: string;
  service: string;
  action: string;
  /** ARN of the verified caller; absent when the request failed authentication. */
  principal?: string;
  accessKeyId?: string;
  region?: string;
  params: unknown;
  outcome: 'ok' | 'error';
  status: number;
  errorCode?: string;
  errorMessage?: string;
  durationMs: number;
}

/** Everything the daemon's servers share. */
export interface DaemonContext {
  world: World;
  credentials: CredentialAuthority;
  throttle: ConnectionThrottle;
  faults: FaultInjector;
  decisionLog: JsonlLog<Decision>;
  callLog: JsonlLog<CallRecord>;
  /** Epoch ms. */
  now: () => number;
}
