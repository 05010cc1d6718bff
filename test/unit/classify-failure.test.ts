import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CheckTimeoutError } from '#shared/check/check-timeout-error.ts';
import { classifyFailure } from '#shared/check/classify-failure.ts';
import { AssumeRoleError, CredentialsError } from '#shared/credentials/assume-role-chain.ts';
import { DbError } from '#shared/db/db-error.ts';
import { OUTCOMES } from '#shared/report/types.ts';
import { TokenError } from '#shared/token/sign-token.ts';

function awsError(name: string, status: number | undefined, message = 'aws said no') {
  return Object.assign(new Error(message), {
    name,
    ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }),
  });
}

function nodeError(code: string) {
  return Object.assign(new Error(`${code} something`), { code });
}

describe('classifyFailure', () => {
  describe('database login', () => {
    it.each([
      ['28000', 'AUTH_REJECTED'],
      ['28P01', 'AUTH_REJECTED'],
      ['53300', 'DATABASE_ERROR'],
      ['57P03', 'DATABASE_ERROR'],
      ['3D000', 'DATABASE_ERROR'],
    ] as const)('maps SQLSTATE %s to %s', (sqlState, outcome) => {
      const error = new DbError(sqlState, 'server said', { phase: 'connect', sqlState });

      expect(classifyFailure(error).outcome).toBe(outcome);
      expect(classifyFailure(error).code).toBe(sqlState);
    });

    it.each([
      [1045, 'ER_ACCESS_DENIED_ERROR', '28000', 'AUTH_REJECTED'],
      [1698, 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR', '28000', 'AUTH_REJECTED'],
      [1040, 'ER_CON_COUNT_ERROR', '08004', 'DATABASE_ERROR'],
      [1129, 'ER_HOST_IS_BLOCKED', 'HY000', 'DATABASE_ERROR'],
      [1049, 'ER_BAD_DB_ERROR', '42000', 'DATABASE_ERROR'],
    ] as const)('maps mysql errno %i (%s) to %s', (errno, code, sqlState, outcome) => {
      const error = new DbError(code, 'server said', { phase: 'connect', sqlState, errno });

      expect(classifyFailure(error).outcome).toBe(outcome);
    });

    it('maps a raw mysql2 error with errno 1045 to AUTH_REJECTED', () => {
      const error = Object.assign(new Error('Access denied'), {
        phase: 'connect',
        code: 'ER_ACCESS_DENIED_ERROR',
        errno: 1045,
      });

      expect(classifyFailure(error).outcome).toBe('AUTH_REJECTED');
    });

    it.each([
      ['ENOTFOUND', 'DNS_ERROR'],
      ['EAI_AGAIN', 'DNS_ERROR'],
      ['ECONNREFUSED', 'CONNECTION_REFUSED'],
      ['EHOSTUNREACH', 'CONNECTION_REFUSED'],
      ['CONNECT_TIMEOUT', 'CONNECT_TIMEOUT'],
      ['ETIMEDOUT', 'CONNECT_TIMEOUT'],
      ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'TLS_ERROR'],
      ['SELF_SIGNED_CERT_IN_CHAIN', 'TLS_ERROR'],
      ['DEPTH_ZERO_SELF_SIGNED_CERT', 'TLS_ERROR'],
      ['ERR_TLS_CERT_ALTNAME_INVALID', 'TLS_ERROR'],
      ['CERT_HAS_EXPIRED', 'TLS_ERROR'],
      ['ERR_SSL_WRONG_VERSION_NUMBER', 'TLS_ERROR'],
      ['HANDSHAKE_NO_SSL_SUPPORT', 'TLS_ERROR'],
      ['TLS_HANDSHAKE_FAILED', 'TLS_ERROR'],
      ['CA_UNREADABLE', 'TLS_ERROR'],
      ['MYSQL_CLEAR_PASSWORD_NOT_ENABLED', 'CANARY_ERROR'],
      ['CLEARTEXT_WITHOUT_TLS', 'CANARY_ERROR'],
      ['AUTH_SWITCH_PLUGIN_ERROR', 'CANARY_ERROR'],
    ] as const)('maps %s while connecting to %s', (code, outcome) => {
      const error = Object.assign(nodeError(code), { phase: 'connect', errno: -111 });

      expect(classifyFailure(error).outcome).toBe(outcome);
    });

    it('marks connect timeouts transient and rejections not', () => {
      const timeout = new DbError('CONNECT_TIMEOUT', 'slow', { phase: 'connect' });
      const rejected = new DbError('28000', 'PAM', { phase: 'connect', sqlState: '28000' });

      expect(classifyFailure(timeout).transient).toBe(true);
      expect(classifyFailure(rejected).transient).toBe(false);
    });

    it.each([
      ['none', 'TLS_ERROR'],
      ['tcp', 'TLS_ERROR'],
      ['tls', 'DATABASE_ERROR'],
    ] as const)('maps a connection closed at progress %s to %s', (progress, outcome) => {
      const error = new DbError('ECONNRESET', 'reset', { phase: 'connect', progress });

      expect(classifyFailure(error).outcome).toBe(outcome);
    });

    it('maps an error without a code while connecting to CANARY_ERROR', () => {
      const error = Object.assign(new TypeError('x is not a function'), { phase: 'connect' });

      expect(classifyFailure(error).outcome).toBe('CANARY_ERROR');
    });
  });

  describe('query', () => {
    it.each([
      ['42601', '42601'],
      ['QUERY_TIMEOUT', undefined],
      ['ECONNRESET', undefined],
    ])('maps %s after login to QUERY_ERROR', (code, sqlState) => {
      const error = new DbError(code, 'bad', {
        phase: 'query',
        progress: 'authenticated',
        ...(sqlState ? { sqlState } : {}),
      });

      expect(classifyFailure(error).outcome).toBe('QUERY_ERROR');
    });
  });

  describe('AWS', () => {
    it('maps AccessDenied from AssumeRole to ASSUME_ROLE_DENIED and keeps the name', () => {
      const error = new AssumeRoleError(awsError('AccessDenied', 403), 'arn:aws:iam::1:role/r', 0);

      expect(classifyFailure(error)).toMatchObject({
        outcome: 'ASSUME_ROLE_DENIED',
        code: 'AccessDenied',
        transient: false,
      });
    });

    it.each([
      ['Throttling', 400],
      ['ThrottlingException', 400],
      ['RequestLimitExceeded', 503],
      ['SomethingElse', 429],
    ])('maps %s (HTTP %i) to THROTTLED, transient', (name, status) => {
      const error = new AssumeRoleError(awsError(name, status), 'arn:aws:iam::1:role/r', 0);

      expect(classifyFailure(error)).toMatchObject({ outcome: 'THROTTLED', transient: true });
    });

    it('maps an STS 5xx to a transient CREDENTIALS_ERROR', () => {
      const error = new AssumeRoleError(awsError('InternalFailure', 500), 'arn:r', 0);

      expect(classifyFailure(error)).toMatchObject({
        outcome: 'CREDENTIALS_ERROR',
        transient: true,
      });
    });

    it.each(['InvalidClientTokenId', 'SignatureDoesNotMatch', 'ExpiredToken'])(
      'maps %s from AssumeRole to CREDENTIALS_ERROR',
      (name) => {
        const error = new AssumeRoleError(awsError(name, 403), 'arn:r', 0);

        expect(classifyFailure(error)).toMatchObject({
          outcome: 'CREDENTIALS_ERROR',
          transient: false,
        });
      },
    );

    it('maps other 4xx from AssumeRole (a bad ExternalId, a duration) to ASSUME_ROLE_DENIED', () => {
      const error = new AssumeRoleError(awsError('ValidationError', 400), 'arn:r', 0);

      expect(classifyFailure(error).outcome).toBe('ASSUME_ROLE_DENIED');
    });

    it('maps STS unreachable to a transient CREDENTIALS_ERROR', () => {
      const error = new AssumeRoleError(nodeError('ECONNREFUSED'), 'arn:r', 0);

      expect(classifyFailure(error)).toMatchObject({
        outcome: 'CREDENTIALS_ERROR',
        code: 'ECONNREFUSED',
        transient: true,
      });
    });

    it('maps a credential-provider error to CREDENTIALS_ERROR', () => {
      const error = new CredentialsError(awsError('CredentialsProviderError', undefined));

      expect(classifyFailure(error)).toMatchObject({
        outcome: 'CREDENTIALS_ERROR',
        code: 'CredentialsProviderError',
        transient: false,
      });
    });

    it('maps a signer error to TOKEN_ERROR', () => {
      const error = new TokenError(new TypeError('bad region'));

      expect(classifyFailure(error).outcome).toBe('TOKEN_ERROR');
    });
  });

  describe('budget', () => {
    it.each(['CHECK_TIMEOUT', 'ROUND_DEADLINE'] as const)(
      'maps %s to a transient TIMEOUT in any phase',
      (code) => {
        const bare = new CheckTimeoutError(code, 'late');
        const wrapped = new DbError(code, 'late', { phase: 'connect' });

        expect(classifyFailure(bare)).toMatchObject({ outcome: 'TIMEOUT', transient: true });
        expect(classifyFailure(wrapped).outcome).toBe('TIMEOUT');
      },
    );
  });

  it('decides from codes, never from the message', () => {
    const a = new DbError('28000', 'PAM authentication failed', {
      phase: 'connect',
      sqlState: '28000',
    });
    const b = new DbError('28000', 'connection refused (ENOTFOUND)', {
      phase: 'connect',
      sqlState: '28000',
    });

    expect(classifyFailure(a).outcome).toBe(classifyFailure(b).outcome);
  });

  it('removes token material from the message', () => {
    const error = new DbError(
      '28000',
      'bad h:5432/?X-Amz-Security-Token=SECRET&X-Amz-Signature=abc',
      {
        phase: 'connect',
        sqlState: '28000',
      },
    );

    const { message } = classifyFailure(error);

    expect(message).not.toContain('SECRET');
    expect(message).not.toContain('abc');
  });

  it('classifies any thrown value without throwing, to a known outcome', () => {
    const anyError = fc.oneof(
      fc.anything(),
      fc.record(
        {
          code: fc.oneof(fc.string(), fc.constantFrom('28000', 'ECONNREFUSED', 'ETIMEDOUT')),
          name: fc.string(),
          phase: fc.oneof(
            fc.string(),
            fc.constantFrom('credentials', 'assume-role', 'token', 'connect', 'query'),
          ),
          progress: fc.oneof(fc.string(), fc.constantFrom('none', 'tcp', 'tls')),
          sqlState: fc.string(),
          errno: fc.oneof(fc.integer(), fc.double()),
          message: fc.string(),
          $metadata: fc.record({ httpStatusCode: fc.integer({ min: 100, max: 599 }) }),
        },
        { requiredKeys: [] },
      ),
    );

    fc.assert(
      fc.property(anyError, (error) => {
        const classified = classifyFailure(error);

        expect(OUTCOMES).toContain(classified.outcome);
        expect(typeof classified.code).toBe('string');
        expect(classified.message.length).toBeLessThanOrEqual(500);
      }),
    );
  });

  it('never lets a presigned signature through, whatever surrounds it', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.stringMatching(/^[0-9a-f]{64}$/),
        fc.string(),
        (pre, sig, post) => {
          const message = `${pre}X-Amz-Signature=${sig}${post}`;

          const classified = classifyFailure({ phase: 'connect', code: '28000', message });

          expect(classified.message).not.toContain(`X-Amz-Signature=${sig}`);
        },
      ),
    );
  });
});
