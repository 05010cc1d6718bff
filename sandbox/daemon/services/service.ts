import type { WireProtocol, WireResponse } from '../aws-errors.ts';
import type { CredentialAuthority, ResolvedCredentials } from '../credentials.ts';
import type { JsonlLog } from '../jsonl-log.ts';
import type { Decision } from '../verify-token.ts';
import type { World } from '../world.ts';

/** What every local AWS service gets for one verified request. */
export interface ServiceContext {
  world: World;
  credentials: CredentialAuthority;
  caller: ResolvedCredentials;
  /** The token verifier's decisions: what the iam-db-auth-error log serves. */
  decisionLog: JsonlLog<Decision>;
  /** The region of the request's credential scope. */
  region: string;
  requestId: string;
  nowMs: number;
}

/** The request as the service parsed it, kept for the call log even when it fails. */
export interface ParsedCall {
  action: string;
  /** The parameters as sent (flattened form fields, or the JSON body). */
  params: unknown;
}

export interface AwsService {
  /** The credential scope's service name: `sts`, `monitoring`, `sns`. */
  signingName: string;
  protocol: WireProtocol;
  /** Query protocol services: the namespace of their XML. */
  xmlNamespace?: string;
  /** Reads the action and its parameters; throws AwsError when it cannot. */
  parse(body: string, headers: (name: string) => string | undefined): ParsedCall;
  /** Runs a parsed call; throws AwsError for AWS-shaped refusals. */
  handle(call: ParsedCall, context: ServiceContext): WireResponse;
}
