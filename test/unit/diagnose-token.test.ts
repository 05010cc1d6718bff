import { describe, expect, it } from 'vitest';
import { compareToken, type TokenComparison } from '#shared/diagnose/compare-token.ts';
import { decodeToken, TokenDecodeError } from '#shared/diagnose/decode-token.ts';
import { signToken } from '#shared/token/sign-token.ts';

const HOST = 'orders-primary.c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com';
const credentials = {
  accessKeyId: 'ASIAEXAMPLEEXAMPLE01',
  secretAccessKey: 'example/secret/key/that/is/forty/chars00',
  sessionToken: 'example-session-token',
};

const target: TokenComparison['target'] = {
  host: HOST,
  port: 5432,
  user: 'canary_iam',
  region: 'eu-west-1',
  signingHost: HOST,
};

function token(overrides: Partial<TokenComparison['token']> = {}): TokenComparison['token'] {
  return {
    host: HOST,
    port: 5432,
    region: 'eu-west-1',
    service: 'rds-db',
    dbUser: 'canary_iam',
    signedAt: new Date('2026-12-04T10:00:00Z'),
    expiresSeconds: 900,
    ...overrides,
  };
}

describe('decodeToken', () => {
  it('reads what a token from the RDS signer was signed for', async () => {
    const { token: text } = await signToken({
      hostname: HOST,
      port: 5432,
      region: 'eu-west-1',
      username: 'canary_iam',
      credentials,
    });

    const decoded = decodeToken(text);

    expect(decoded).toMatchObject({
      signedHost: `${HOST}:5432`,
      host: HOST,
      port: 5432,
      region: 'eu-west-1',
      service: 'rds-db',
      dbUser: 'canary_iam',
      expiresSeconds: 900,
      accessKeyId: credentials.accessKeyId,
      hasSessionToken: true,
    });
    expect(Math.abs(decoded.signedAt.getTime() - Date.now())).toBeLessThan(5000);
    expect(decoded.expiresAt.getTime() - decoded.signedAt.getTime()).toBe(900_000);
  });

  it('keeps no secret of the token', async () => {
    const { token: text } = await signToken({
      hostname: HOST,
      port: 5432,
      region: 'eu-west-1',
      username: 'canary_iam',
      credentials,
    });
    const signature = /X-Amz-Signature=([^&]+)/.exec(text)![1]!;

    const shown = JSON.stringify(decodeToken(text));

    expect(shown).not.toContain(signature);
    expect(shown).not.toContain(credentials.sessionToken);
  });

  it('refuses text that is not a token without quoting it', () => {
    const secretish = 'not-a-token-but-secret-looking-text';

    expect(() => decodeToken(secretish)).toThrow(TokenDecodeError);
    try {
      decodeToken(secretish);
    } catch (error) {
      expect((error as TokenDecodeError).code).toBe('TOKEN_UNREADABLE');
      expect((error as Error).message).not.toContain(secretish);
    }
  });
});

describe('compareToken', () => {
  it('finds nothing when the token matches the target', () => {
    expect(compareToken({ token: token(), target })).toEqual([]);
  });

  it('finds a region the endpoint name disagrees with', () => {
    const [finding] = compareToken({ token: token({ region: 'us-east-1' }), target });

    expect(finding).toMatchObject({ cause: 'REGION_MISMATCH', confidence: 'certain' });
    expect(finding!.evidence).toContain('us-east-1');
    expect(finding!.evidence).toContain('eu-west-1');
  });

  it('finds a token signed for a host that is not an RDS endpoint', () => {
    const findings = compareToken({
      token: token({ host: 'db.internal.example.com' }),
      target: {
        ...target,
        host: 'db.internal.example.com',
        signingHost: 'db.internal.example.com',
      },
    });

    expect(findings.map((f) => f.cause)).toEqual(['SIGNING_HOST_MISMATCH']);
  });

  it('is certain of a host mismatch when RDS describes the endpoint', () => {
    const findings = compareToken({
      token: token({ host: 'orders-replica.c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com' }),
      target,
      endpoint: { addresses: [HOST], port: 5432, region: 'eu-west-1' },
    });

    expect(findings[0]).toMatchObject({ cause: 'SIGNING_HOST_MISMATCH', confidence: 'certain' });
  });

  it('accepts a tunnel that signs for the endpoint', () => {
    const findings = compareToken({
      token: token(),
      target: { ...target, host: 'localhost', port: 15432 },
    });

    expect(findings).toEqual([]);
  });

  it('finds a port the endpoint does not listen on', () => {
    const findings = compareToken({
      token: token({ port: 3306 }),
      target,
      endpoint: { addresses: [HOST], port: 5432, region: 'eu-west-1' },
    });

    expect(findings).toEqual([
      expect.objectContaining({ cause: 'PORT_MISMATCH', confidence: 'certain' }),
    ]);
  });

  it('finds a user that differs only in case', () => {
    const [finding] = compareToken({
      token: token({ dbUser: 'Canary_IAM' }),
      target,
    });

    expect(finding).toMatchObject({ cause: 'USER_MISMATCH', confidence: 'certain' });
    expect(finding!.evidence).toContain('case');
  });

  it('finds a token older than its life at connect', () => {
    const findings = compareToken({ token: token(), target, tokenAgeSeconds: 1200 });

    expect(findings).toEqual([expect.objectContaining({ cause: 'TOKEN_EXPIRED' })]);
  });

  it('finds credentials that expired before the token was used', () => {
    const findings = compareToken({
      token: token(),
      target,
      tokenAgeSeconds: 2,
      credentialsExpiration: new Date('2026-12-04T09:59:59Z'),
    });

    expect(findings).toEqual([
      expect.objectContaining({ cause: 'CREDENTIALS_EXPIRED', confidence: 'certain' }),
    ]);
  });

  it('accepts credentials that outlive the token', () => {
    const findings = compareToken({
      token: token(),
      target,
      tokenAgeSeconds: 2,
      credentialsExpiration: new Date('2026-12-04T11:00:00Z'),
    });

    expect(findings).toEqual([]);
  });
});
