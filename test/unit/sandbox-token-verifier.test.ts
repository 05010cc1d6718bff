import { Sha256 } from '@aws-crypto/sha256-js';
import { Signer } from '@aws-sdk/rds-signer';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { beforeEach, describe, expect, it } from 'vitest';
import { CredentialAuthority } from '#sandbox/daemon/credentials.ts';
import { ConnectionThrottle } from '#sandbox/daemon/throttle.ts';
import { type LoginRequest, TokenVerifier } from '#sandbox/daemon/verify-token.ts';
import { World } from '#sandbox/daemon/world.ts';
import { type FixtureInstance, loadFixture } from '#sandbox/fixture-schema.ts';

const MASTER = '5e'.repeat(32);
const fixture = loadFixture('sandbox/fixture.default.yaml');
const CANARY = 'arn:aws:iam::111111111111:user/canary';
const RDS_CONNECT = 'arn:aws:iam::222222222222:role/rds-connect';

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

let world: World;
let credentials: CredentialAuthority;
let nowMs: number;
let verifier: TokenVerifier;

beforeEach(() => {
  world = new World(fixture);
  credentials = new CredentialAuthority(
    MASTER,
    fixture.users.map((u) => u.arn),
  );
  nowMs = Date.now();
  verifier = new TokenVerifier({
    world,
    credentials,
    throttle: new ConnectionThrottle(),
    now: () => nowMs,
  });
});

function instance(name: string): FixtureInstance {
  return world.instance(name)!;
}

/** A token from the real signer, as the canary makes them. */
function signerToken(target: FixtureInstance, user: string, keys: Keys, region?: string) {
  return new Signer({
    hostname: target.host,
    port: target.port,
    region: region ?? target.region,
    username: user,
    credentials: keys,
  }).getAuthToken();
}

/** A token presigned by hand, for what the signer never does (other expiry, service, date). */
async function presignedToken(
  target: FixtureInstance,
  user: string,
  keys: Keys,
  options: { expiresIn?: number; service?: string; signingDate?: Date },
) {
  const signer = new SignatureV4({
    credentials: keys,
    region: target.region,
    service: options.service ?? 'rds-db',
    sha256: Sha256,
  });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname: target.host,
    port: target.port,
    path: '/',
    query: { Action: 'connect', DBUser: user },
    headers: { host: `${target.host}:${target.port}` },
  });
  const signed = await signer.presign(request, {
    expiresIn: options.expiresIn ?? 900,
    signingDate: options.signingDate,
  });
  const query = Object.entries(signed.query as Record<string, string>)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return `${target.host}:${target.port}/?${query}`;
}

function login(name: string, user: string, token: string, tls = 'required'): LoginRequest {
  return { instance: name, user, rhost: '127.0.0.1', tls, token };
}

function roleKeys(roleArn: string, expiresInMs = 3_600_000): Keys {
  return credentials.issue(
    {
      kind: 'role-session',
      policyArn: roleArn,
      sessionName: 'test',
      tags: [],
      transitiveTagKeys: [],
      sourcePrincipal: CANARY,
    },
    new Date(nowMs + expiresInMs),
  );
}

describe('TokenVerifier', () => {
  it('allows a token from @aws-sdk/rds-signer for a permitted user', async () => {
    const token = await signerToken(instance('orders'), 'canary_iam', credentials.userKeys(CANARY));

    const decision = verifier.verify(login('orders', 'canary_iam', token));

    expect(decision).toMatchObject({
      decision: 'ALLOW',
      reason: null,
      principal: CANARY,
      resource:
        'arn:aws:rds-db:eu-west-1:111111111111:dbuser:db-ORDERS0PRIMARY000000000001/canary_iam',
    });
  });

  it('allows a 1.5 KB+ token signed by a role session in the second account', async () => {
    const token = await signerToken(instance('payments'), 'canary_iam', roleKeys(RDS_CONNECT));

    const decision = verifier.verify(login('payments', 'canary_iam', token));

    expect(token.length).toBeGreaterThan(1536);
    expect(decision.decision).toBe('ALLOW');
    expect(decision.principal).toBe('arn:aws:sts::222222222222:assumed-role/rds-connect/test');
  });

  it('never logs the token, signature, secret or session token', async () => {
    const keys = roleKeys(RDS_CONNECT);
    const token = await signerToken(instance('payments'), 'canary_iam', keys);
    const signature = /X-Amz-Signature=([0-9a-f]+)/.exec(token)![1]!;

    const line = JSON.stringify(verifier.verify(login('payments', 'canary_iam', token)));

    for (const secret of [signature, keys.secretAccessKey, keys.sessionToken!, token]) {
      expect(line).not.toContain(secret);
    }
    expect(line).not.toContain(encodeURIComponent(keys.sessionToken!).slice(0, 40));
  });

  it.each([
    ['UNKNOWN_INSTANCE', () => login('nope', 'canary_iam', 'x')],
    ['NO_TLS', () => login('orders', 'canary_iam', 'x', 'absent')],
    ['MALFORMED_TOKEN', () => login('orders', 'canary_iam', 'orders:15432/?Action=connect')],
  ])('denies %s before reading the token', (reason, request) => {
    expect(verifier.verify(request())).toMatchObject({ decision: 'DENY', reason });
  });

  it('denies a key it does not know (UNKNOWN_ACCESS_KEY)', async () => {
    const keys = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x'.repeat(40) };
    const token = await signerToken(instance('orders'), 'canary_iam', keys);

    expect(verifier.verify(login('orders', 'canary_iam', token)).reason).toBe('UNKNOWN_ACCESS_KEY');
  });

  it('denies a token whose signature was tampered with (BAD_SIGNATURE)', async () => {
    const token = await signerToken(instance('orders'), 'canary_iam', credentials.userKeys(CANARY));
    const tampered = token.replace(
      /X-Amz-Signature=(.)/,
      (_, c) => `X-Amz-Signature=${c === 'a' ? 'b' : 'a'}`,
    );

    expect(verifier.verify(login('orders', 'canary_iam', tampered)).reason).toBe('BAD_SIGNATURE');
  });

  it('denies a token signed with the wrong secret (BAD_SIGNATURE)', async () => {
    const keys = credentials.userKeys(CANARY);
    const token = await signerToken(instance('orders'), 'canary_iam', {
      ...keys,
      secretAccessKey: keys.secretAccessKey.replace(/.$/, '_'),
    });

    expect(verifier.verify(login('orders', 'canary_iam', token)).reason).toBe('BAD_SIGNATURE');
  });

  it('denies X-Amz-Expires above 900 s (EXPIRES_TOO_LONG)', async () => {
    const token = await presignedToken(
      instance('orders'),
      'canary_iam',
      credentials.userKeys(CANARY),
      {
        expiresIn: 3600,
      },
    );

    expect(verifier.verify(login('orders', 'canary_iam', token)).reason).toBe('EXPIRES_TOO_LONG');
  });

  it('denies a token older than its 15 minutes (TOKEN_EXPIRED) and says its age', async () => {
    const token = await signerToken(instance('orders'), 'canary_iam', credentials.userKeys(CANARY));
    nowMs += 901_000;

    const decision = verifier.verify(login('orders', 'canary_iam', token));

    expect(decision.reason).toBe('TOKEN_EXPIRED');
    expect(decision.tokenAgeSeconds).toBeGreaterThanOrEqual(900);
  });

  it('denies a token dated more than 5 minutes ahead (TOKEN_NOT_YET_VALID)', async () => {
    const token = await presignedToken(
      instance('orders'),
      'canary_iam',
      credentials.userKeys(CANARY),
      {
        signingDate: new Date(nowMs + 10 * 60_000),
      },
    );

    expect(verifier.verify(login('orders', 'canary_iam', token)).reason).toBe(
      'TOKEN_NOT_YET_VALID',
    );
  });

  it('denies a fresh token whose signing credentials expired (CREDENTIALS_EXPIRED)', async () => {
    const keys = roleKeys(RDS_CONNECT, 60_000);
    const token = await signerToken(instance('payments'), 'canary_iam', keys);
    nowMs += 120_000;

    expect(verifier.verify(login('payments', 'canary_iam', token)).reason).toBe(
      'CREDENTIALS_EXPIRED',
    );
  });

  it('denies a token signed for another region (WRONG_REGION) naming both', async () => {
    const token = await signerToken(
      instance('orders'),
      'canary_iam',
      credentials.userKeys(CANARY),
      'us-east-1',
    );

    const decision = verifier.verify(login('orders', 'canary_iam', token));

    expect(decision.reason).toBe('WRONG_REGION');
    expect(decision.region).toBe('us-east-1');
    expect(decision.detail).toContain('eu-west-1');
  });

  it('denies a token for another service (WRONG_SERVICE)', async () => {
    const token = await presignedToken(
      instance('orders'),
      'canary_iam',
      credentials.userKeys(CANARY),
      {
        service: 'rds',
      },
    );

    expect(verifier.verify(login('orders', 'canary_iam', token)).reason).toBe('WRONG_SERVICE');
  });

  it('denies a token signed for another host (WRONG_HOST)', async () => {
    const target = { ...instance('orders'), host: 'localhost' };
    const token = await signerToken(target, 'canary_iam', credentials.userKeys(CANARY));

    const decision = verifier.verify(login('orders', 'canary_iam', token));

    expect(decision.reason).toBe('WRONG_HOST');
    expect(decision.signedHost).toBe('localhost:15432');
  });

  it('denies a token signed for another port (WRONG_PORT)', async () => {
    const target = { ...instance('orders'), port: 5432 };
    const token = await signerToken(target, 'canary_iam', credentials.userKeys(CANARY));

    expect(verifier.verify(login('orders', 'canary_iam', token)).reason).toBe('WRONG_PORT');
  });

  it('compares DBUser with the login user case-sensitively (WRONG_USER)', async () => {
    const token = await signerToken(instance('orders'), 'canary_iam', credentials.userKeys(CANARY));

    expect(verifier.verify(login('orders', 'Canary_iam', token)).reason).toBe('WRONG_USER');
  });

  it('denies when IAM authentication is off on the instance (IAM_AUTH_DISABLED)', async () => {
    const token = await signerToken(instance('legacy'), 'canary_iam', credentials.userKeys(CANARY));

    expect(verifier.verify(login('legacy', 'canary_iam', token)).reason).toBe('IAM_AUTH_DISABLED');
  });

  it('denies what the organization deny list forbids (ORG_DENY)', async () => {
    const token = await signerToken(
      instance('orders'),
      'blocked_by_org',
      credentials.userKeys(CANARY),
    );

    expect(verifier.verify(login('orders', 'blocked_by_org', token)).reason).toBe('ORG_DENY');
  });

  it('denies what an identity policy denies explicitly (EXPLICIT_DENY)', async () => {
    const token = await signerToken(
      instance('orders'),
      'readonly_guard',
      credentials.userKeys(CANARY),
    );

    expect(verifier.verify(login('orders', 'readonly_guard', token)).reason).toBe('EXPLICIT_DENY');
  });

  it('denies a policy that names the cluster instead of its resource id (NOT_AUTHORIZED)', async () => {
    const keys = roleKeys('arn:aws:iam::111111111111:role/wrong-resource');
    const token = await signerToken(instance('orders'), 'canary_iam', keys);

    const decision = verifier.verify(login('orders', 'canary_iam', token));

    expect(decision.reason).toBe('NOT_AUTHORIZED');
    expect(decision.principal).toBe('arn:aws:sts::111111111111:assumed-role/wrong-resource/test');
  });

  it('denies a principal of another account even when its policy allows (NOT_AUTHORIZED)', async () => {
    world.patchPrincipal({
      arn: RDS_CONNECT,
      policies: [{ Effect: 'Allow', Action: 'rds-db:connect', Resource: '*' }],
      boundary: null,
    });
    const token = await signerToken(instance('orders'), 'canary_iam', roleKeys(RDS_CONNECT));

    const decision = verifier.verify(login('orders', 'canary_iam', token));

    expect(decision.reason).toBe('NOT_AUTHORIZED');
    expect(decision.detail).toContain('222222222222');
  });

  it('denies what the permissions boundary does not allow (BOUNDARY_DENY)', async () => {
    world.patchPrincipal({
      arn: RDS_CONNECT,
      boundary: [{ Effect: 'Allow', Action: 'sts:*', Resource: '*' }],
    });
    const token = await signerToken(instance('payments'), 'canary_iam', roleKeys(RDS_CONNECT));

    expect(verifier.verify(login('payments', 'canary_iam', token)).reason).toBe('BOUNDARY_DENY');
  });

  it('throttles beyond maxIamConnectionsPerSecond in a sliding second (THROTTLED)', async () => {
    world.patchInstance('orders', { maxIamConnectionsPerSecond: 2 });
    const token = await signerToken(instance('orders'), 'canary_iam', credentials.userKeys(CANARY));
    const request = login('orders', 'canary_iam', token);

    const first = [verifier.verify(request), verifier.verify(request), verifier.verify(request)];
    nowMs += 1001;
    const later = verifier.verify(request);

    expect(first.map((d) => d.reason)).toEqual([null, null, 'THROTTLED']);
    expect(later.decision).toBe('ALLOW');
  });

  it('decides in well under 5 ms', async () => {
    const token = await signerToken(instance('payments'), 'canary_iam', roleKeys(RDS_CONNECT));
    const request = login('payments', 'canary_iam', token);
    verifier.verify(request);

    const started = performance.now();
    for (let i = 0; i < 200; i++) verifier.verify(request);
    const perDecisionMs = (performance.now() - started) / 200;

    expect(perDecisionMs).toBeLessThan(5);
  });
});
