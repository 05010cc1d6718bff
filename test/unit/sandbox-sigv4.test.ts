import { Sha256 } from '@aws-crypto/sha256-js';
import { Signer } from '@aws-sdk/rds-signer';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AwsError } from '#sandbox/daemon/aws-errors.ts';
import { CredentialAuthority } from '#sandbox/daemon/credentials.ts';
import { parseRdsToken } from '#sandbox/daemon/rds-token.ts';
import {
  buildCanonicalRequest,
  computeSignature,
  EMPTY_BODY_SHA256,
  parseAmzDate,
} from '#sandbox/daemon/sigv4.ts';
import { verifyRequest } from '#sandbox/daemon/verify-request.ts';

const MASTER = 'a1'.repeat(32);
const USER_ARN = 'arn:aws:iam::111111111111:user/canary';

function authority(): CredentialAuthority {
  return new CredentialAuthority(MASTER, [USER_ARN]);
}

/** Signs a request with the SDK's own signer, as a client would send it. */
async function signWithSdk(
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  options: {
    body?: string;
    path?: string;
    query?: Record<string, string>;
    date?: Date;
    extraHeader?: string;
  } = {},
) {
  const signer = new SignatureV4({
    credentials,
    region: 'eu-west-1',
    service: 'sts',
    sha256: Sha256,
  });
  const body = options.body ?? 'Action=GetCallerIdentity&Version=2011-06-15';
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 14566,
    path: options.path ?? '/',
    query: options.query ?? {},
    headers: {
      host: '127.0.0.1:14566',
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(Buffer.byteLength(body)),
      ...(options.extraHeader === undefined ? {} : { 'x-amz-meta-note': options.extraHeader }),
    },
    body,
  });
  const signed = await signer.sign(request, { signingDate: options.date ?? new Date() });
  const query = new URLSearchParams(signed.query as Record<string, string>).toString();
  return {
    method: signed.method,
    url: `${signed.path}${query ? `?${query.replace(/\+/g, '%20')}` : ''}`,
    rawHeaders: Object.entries(signed.headers).flat(),
    body: Buffer.from(body),
  };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof AwsError ? error.code : String(error);
  }
}

describe('verifyRequest (Authorization header)', () => {
  it('accepts a request signed by the SDK with a user key', async () => {
    const creds = authority();
    const request = await signWithSdk(creds.userKeys(USER_ARN));

    const caller = verifyRequest(request, creds, Date.now());

    expect(caller.creds.principal.arn).toBe(USER_ARN);
    expect(caller.scope.service).toBe('sts');
  });

  it('accepts a path and query that need encoding', async () => {
    const creds = authority();
    const request = await signWithSdk(creds.userKeys(USER_ARN), {
      path: '/a%20b/c',
      query: { 'x y': 'v/w', z: '*' },
    });

    expect(verifyRequest(request, creds, Date.now()).creds.principal.arn).toBe(USER_ARN);
  });

  it('accepts any query, header value and body the SDK signs', async () => {
    const creds = authority();
    const keys = creds.userKeys(USER_ARN);
    const text = fc.string({ unit: 'grapheme', maxLength: 12 });

    await fc.assert(
      fc.asyncProperty(
        // fast-check builds dictionaries with a null prototype; the signer and
        // URLSearchParams then see `__proto__` differently, which is not the daemon's doing.
        fc.dictionary(
          text.filter((k) => k.length > 0 && k !== '__proto__'),
          text,
          { maxKeys: 4 },
        ),
        fc.string({ maxLength: 200 }),
        fc.stringMatching(/^[ -~]{0,30}$/),
        async (query, body, headerValue) => {
          const request = await signWithSdk(keys, { query, body, extraHeader: headerValue });

          expect(verifyRequest(request, creds, Date.now()).creds.principal.arn).toBe(USER_ARN);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('accepts temporary credentials with their session token', async () => {
    const creds = authority();
    const issued = creds.issue(
      { kind: 'user', userArn: USER_ARN },
      new Date(Date.now() + 3_600_000),
    );
    const request = await signWithSdk(issued);

    expect(verifyRequest(request, creds, Date.now()).creds.temporary).toBe(true);
  });

  it('refuses a body changed after signing with SignatureDoesNotMatch', async () => {
    const creds = authority();
    const request = await signWithSdk(creds.userKeys(USER_ARN));
    request.body = Buffer.from('Action=GetCallerIdentity&Version=2011-06-16');

    expect(codeOf(() => verifyRequest(request, creds, Date.now()))).toBe('SignatureDoesNotMatch');
  });

  it('refuses a signature made with the wrong secret', async () => {
    const creds = authority();
    const keys = creds.userKeys(USER_ARN);
    const request = await signWithSdk({ ...keys, secretAccessKey: `${keys.secretAccessKey}x` });

    expect(codeOf(() => verifyRequest(request, creds, Date.now()))).toBe('SignatureDoesNotMatch');
  });

  it('refuses an unknown key with InvalidClientTokenId', async () => {
    const request = await signWithSdk({
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    });

    expect(codeOf(() => verifyRequest(request, authority(), Date.now()))).toBe(
      'InvalidClientTokenId',
    );
  });

  it('refuses a forged session token with InvalidClientTokenId', async () => {
    const creds = authority();
    const issued = creds.issue({ kind: 'user', userArn: USER_ARN }, new Date(Date.now() + 60_000));
    const forged = Buffer.from(issued.sessionToken, 'base64');
    forged[10] = forged[10]! ^ 1;
    const request = await signWithSdk({ ...issued, sessionToken: forged.toString('base64') });

    expect(codeOf(() => verifyRequest(request, creds, Date.now()))).toBe('InvalidClientTokenId');
  });

  it('refuses expired temporary credentials with ExpiredToken', async () => {
    const creds = authority();
    const issued = creds.issue({ kind: 'user', userArn: USER_ARN }, new Date(Date.now() - 1000));
    const request = await signWithSdk(issued);

    expect(codeOf(() => verifyRequest(request, creds, Date.now()))).toBe('ExpiredToken');
  });

  it('refuses a request signed more than 15 minutes ago', async () => {
    const creds = authority();
    const request = await signWithSdk(creds.userKeys(USER_ARN), {
      date: new Date(Date.now() - 16 * 60_000),
    });

    expect(codeOf(() => verifyRequest(request, creds, Date.now()))).toBe('SignatureDoesNotMatch');
  });

  it('refuses a request without an Authorization header', () => {
    const request = { method: 'POST', url: '/', rawHeaders: ['host', 'x'], body: Buffer.alloc(0) };

    expect(codeOf(() => verifyRequest(request, authority(), Date.now()))).toBe(
      'MissingAuthenticationToken',
    );
  });
});

describe('RDS token signatures', () => {
  it('recomputes the signature of a token made by @aws-sdk/rds-signer', async () => {
    const keys = authority().userKeys(USER_ARN);
    const signer = new Signer({
      hostname: 'orders.example.eu-west-1.rds.amazonaws.com',
      port: 15432,
      region: 'eu-west-1',
      username: 'canary_iam',
      credentials: keys,
    });
    const parsed = parseRdsToken(await signer.getAuthToken());
    if (!parsed.ok) throw new Error(parsed.detail);
    const token = parsed.token;

    const canonical = buildCanonicalRequest({
      method: 'GET',
      path: '/',
      query: token.signedQuery,
      headers: [['host', token.signedHost]],
      payloadHash: EMPTY_BODY_SHA256,
    });

    expect(computeSignature(keys.secretAccessKey, token.scope, token.amzDate, canonical)).toBe(
      token.signature,
    );
    expect(token.dbUser).toBe('canary_iam');
    expect(token.port).toBe(15432);
    expect(token.scope.service).toBe('rds-db');
  });

  it('keeps the whole session token of a temporary-credentials token', async () => {
    const creds = authority();
    const issued = creds.issue({ kind: 'user', userArn: USER_ARN }, new Date(Date.now() + 60_000));
    const signer = new Signer({
      hostname: 'h.example.com',
      port: 5432,
      region: 'eu-west-1',
      username: 'u',
      credentials: issued,
    });

    const text = await signer.getAuthToken();
    const parsed = parseRdsToken(text);

    expect(text.length).toBeGreaterThan(1536);
    expect(parsed.ok && parsed.token.sessionToken).toBe(issued.sessionToken);
  });

  it('reports what is malformed', () => {
    expect(parseRdsToken('not a token').ok).toBe(false);
    expect(parseRdsToken('h:1/?Action=connect').ok).toBe(false);
  });

  it('parses X-Amz-Date and rejects impossible dates', () => {
    expect(parseAmzDate('20261204T161405Z')?.toISOString()).toBe('2026-12-04T16:14:05.000Z');
    expect(parseAmzDate('20260231T000000Z')).toBeUndefined();
    expect(parseAmzDate('2026-12-04')).toBeUndefined();
  });
});
