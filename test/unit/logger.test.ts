import { describe, expect, it } from 'vitest';
import { createLogger, formatLine, toSnakeCase } from '#shared/log/logger.ts';
import { isSecretKey, REDACTED, redactText, redactValue } from '#shared/log/redact.ts';

// Shapes of real secrets, made up: an RDS IAM token signed with temporary credentials.
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SESSION_TOKEN = `IQoJb3JpZ2luX2VjE${'A'.repeat(300)}/bGVuZ3RoLXBhZGRpbmc=`;
const SIGNATURE = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';
const TOKEN =
  'orders.c1a2b3.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=canary_iam' +
  '&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE123%2F20261204%2Feu-west-1%2Frds-db%2Faws4_request' +
  `&X-Amz-Date=20261204T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=${encodeURIComponent(SESSION_TOKEN)}` +
  `&X-Amz-Signature=${SIGNATURE}`;

function capture(level?: 'debug' | 'info' | 'warn' | 'error') {
  const lines: string[] = [];
  const logger = createLogger({
    sink: (line) => lines.push(line),
    ...(level ? { level } : {}),
    now: () => new Date('2026-12-04T12:00:00.000Z'),
  });
  return { lines, logger };
}

describe('redactText', () => {
  it('removes the signature and session token from an RDS token', () => {
    const out = redactText(`login failed with ${TOKEN}`);

    expect(out).not.toContain(SIGNATURE);
    expect(out).not.toContain(encodeURIComponent(SESSION_TOKEN));
    expect(out).toContain(`X-Amz-Signature=${REDACTED}`);
    expect(out).toContain(`X-Amz-Security-Token=${REDACTED}`);
    expect(out).toContain('DBUser=canary_iam');
  });

  it('removes URL-encoded SigV4 parameters', () => {
    const out = redactText(`X-Amz-Signature%3D${SIGNATURE}%26X-Amz-Security-Token%3Dabc`);

    expect(out).not.toContain(SIGNATURE);
  });

  it('removes the signature of an Authorization header', () => {
    const header = `AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261204/eu-west-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=${SIGNATURE}`;

    expect(redactText(header)).not.toContain(SIGNATURE);
  });

  it('removes a stand-alone secret access key and session token', () => {
    const out = redactText(`key ${SECRET_KEY} token ${SESSION_TOKEN}.`);

    expect(out).not.toContain(SECRET_KEY);
    expect(out).not.toContain(SESSION_TOKEN.slice(20, 60));
  });

  it('removes passwords in connection strings', () => {
    const out = redactText('postgres://app:hunter2@db:5432/x and host=db password=hunter2;');

    expect(out).not.toContain('hunter2');
  });

  it('keeps ordinary text, ARNs and host names', () => {
    const text =
      'arn:aws:sts::222222222222:assumed-role/rds-connect/rds-iam-canary-payments-cross-account ' +
      'orders-primary.c1a2b3d4e5f6.eu-west-1.rds.amazonaws.com:15432 PAM authentication failed';

    expect(redactText(text)).toBe(text);
  });
});

describe('redactValue', () => {
  it.each([
    'secret',
    'token',
    'password',
    'sessionToken',
    'session_token',
    'secretAccessKey',
    'adminPassword',
    'authorization',
    'credentials',
  ])('redacts the value under %s', (key) => {
    expect(redactValue({ [key]: 'value' })).toEqual({ [key]: REDACTED });
  });

  it.each(['tokenMs', 'token_ms', 'tokenAgeSeconds', 'principal', 'accessKeyId'])(
    'keeps the value under %s',
    (key) => {
      expect(isSecretKey(key)).toBe(false);
    },
  );

  it('redacts deep inside objects, arrays and errors', () => {
    const error = Object.assign(new Error(`bad ${TOKEN}`), { code: '28000' });

    const out = JSON.stringify(
      redactValue({
        a: [{ b: { credentials: { accessKeyId: 'AKIA', secretAccessKey: SECRET_KEY } } }],
        error,
      }),
    );

    expect(out).not.toContain(SECRET_KEY);
    expect(out).not.toContain(SIGNATURE);
    expect(out).toContain('"code":"28000"');
  });

  it('survives cycles and keeps a shared object twice', () => {
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { shared, again: shared };
    cyclic.self = cyclic;

    expect(redactValue(cyclic)).toEqual({ shared: { n: 1 }, again: { n: 1 }, self: '[Circular]' });
  });
});

describe('logger', () => {
  it('writes one JSON line with time, level, event and snake_case keys', () => {
    const { lines, logger } = capture();

    logger.child({ function: 'canary' }).info('check_result', { target: 'orders', totalMs: 12 });

    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      time: '2026-12-04T12:00:00.000Z',
      level: 'info',
      event: 'check_result',
      function: 'canary',
      target: 'orders',
      total_ms: 12,
    });
  });

  it('drops lines below its level', () => {
    const { lines, logger } = capture('warn');

    logger.info('a');
    logger.warn('b');
    logger.error('c');

    expect(lines.map((l) => JSON.parse(l).event)).toEqual(['b', 'c']);
  });

  it('never writes a secret, whatever the caller passes', () => {
    const { lines, logger } = capture();

    logger.error('publish_failed', {
      error_message: `request to ${TOKEN} failed`,
      sessionToken: SESSION_TOKEN,
      secretAccessKey: SECRET_KEY,
      error: new Error(`signature ${SIGNATURE} with key ${SECRET_KEY}`),
    });

    const line = lines[0]!;
    for (const secret of [SIGNATURE, SECRET_KEY, SESSION_TOKEN.slice(0, 40), 'IQoJb3JpZ2lu']) {
      expect(line).not.toContain(secret);
    }
    expect(JSON.parse(line).session_token).toBe(REDACTED);
  });

  it('converts camelCase keys and leaves snake_case ones', () => {
    expect(toSnakeCase('tokenAgeSeconds')).toBe('token_age_seconds');
    expect(toSnakeCase('error_code')).toBe('error_code');
    expect(toSnakeCase('HTTPStatus')).toBe('http_status');
    expect(formatLine({ skipped: undefined, kept: 1 })).toBe('{"kept":1}');
  });
});
