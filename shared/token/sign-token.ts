/**
 * Signs an RDS IAM authentication token with `@aws-sdk/rds-signer`: a presigned
 * `rds-db:connect` URL for `signingHost:signingPort`, `DBUser`, in the target's region, valid
 * 15 minutes. A check signs a fresh one for every connection attempt (field case F3).
 */
import { Signer } from '@aws-sdk/rds-signer';
import type { AwsCredentials } from '#shared/credentials/assume-role-chain.ts';
import { CanaryError } from '#shared/errors.ts';

export interface SignTokenRequest {
  /** The endpoint the token is for (the target's signingHost, default its host). */
  hostname: string;
  port: number;
  region: string;
  /** The database user (DBUser). */
  username: string;
  /** The last hop's credentials. Required: the signer never falls back to another chain. */
  credentials: AwsCredentials;
}

export interface SignedToken {
  /** The token. A secret: never log it, never put it in an error or a report. */
  token: string;
  /** When it was signed, epoch milliseconds (taken just before signing). */
  signedAt: number;
}

/** The signer failed (bad credentials shape, an invalid region or host). */
export class TokenError extends CanaryError {
  readonly phase = 'token' as const;

  constructor(error: unknown) {
    const name = error instanceof Error && error.name !== 'Error' ? error.name : 'TOKEN_ERROR';
    const message = error instanceof Error ? error.message : String(error);
    super(name, `cannot sign the token: ${message}`, { cause: error });
  }
}

/**
 * Returns a new token and its signing time. Rejects with TokenError.
 *
 * @example
 * const { token } = await signToken({ hostname: 'db.example', port: 5432,
 *   region: 'eu-west-1', username: 'canary_iam', credentials });
 */
export async function signToken(request: SignTokenRequest): Promise<SignedToken> {
  const signedAt = Date.now();
  try {
    const signer = new Signer({
      hostname: request.hostname,
      port: request.port,
      region: request.region,
      username: request.username,
      // A plain object, not a provider: the signer must not refresh or swap credentials.
      credentials: {
        accessKeyId: request.credentials.accessKeyId,
        secretAccessKey: request.credentials.secretAccessKey,
        ...(request.credentials.sessionToken === undefined
          ? {}
          : { sessionToken: request.credentials.sessionToken }),
      },
    });
    const token = await signer.getAuthToken();
    return { token, signedAt };
  } catch (error) {
    throw new TokenError(error);
  }
}
