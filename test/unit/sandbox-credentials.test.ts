import { describe, expect, it } from 'vitest';
import { CredentialAuthority, deriveUserKeys } from '#sandbox/daemon/credentials.ts';

const MASTER = '0f'.repeat(32);
const OTHER_MASTER = 'f0'.repeat(32);
const USER = 'arn:aws:iam::111111111111:user/canary';
const ROLE = 'arn:aws:iam::222222222222:role/rds-connect';

function roleSpec() {
  return {
    kind: 'role-session' as const,
    policyArn: ROLE,
    sessionName: 'payments',
    tags: [{ Key: 'target', Value: 'payments' }],
    transitiveTagKeys: ['target'],
    sourcePrincipal: 'arn:aws:sts::111111111111:assumed-role/canary-hub/hub',
  };
}

describe('deriveUserKeys', () => {
  it('derives an AKIA key id of 20 characters and a 40-character secret', () => {
    const keys = deriveUserKeys(MASTER, USER);

    expect(keys.accessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(keys.secretAccessKey).toHaveLength(40);
  });

  it('is stable for one master key and differs across master keys and users', () => {
    const keys = deriveUserKeys(MASTER, USER);

    expect(deriveUserKeys(MASTER, USER)).toEqual(keys);
    expect(deriveUserKeys(OTHER_MASTER, USER).accessKeyId).not.toBe(keys.accessKeyId);
    expect(deriveUserKeys(MASTER, `${USER}2`).accessKeyId).not.toBe(keys.accessKeyId);
  });

  it('refuses a master key that is not 64 hex characters', () => {
    expect(() => deriveUserKeys('abc', USER)).toThrow(/64 hex/);
  });
});

describe('CredentialAuthority', () => {
  it('resolves a user key id to the user, without expiry', () => {
    const authority = new CredentialAuthority(MASTER, [USER]);
    const keys = deriveUserKeys(MASTER, USER);

    const resolved = authority.resolve(keys.accessKeyId);

    expect(resolved).toMatchObject({
      secretAccessKey: keys.secretAccessKey,
      principal: { kind: 'user', arn: USER, account: '111111111111' },
      temporary: false,
    });
    expect(resolved?.expiration).toBeUndefined();
  });

  it('issues role-session credentials with a session token of 1.5 KB or more', () => {
    const authority = new CredentialAuthority(MASTER, []);
    const expiration = new Date('2026-12-04T18:00:00Z');

    const issued = authority.issue(roleSpec(), expiration);

    expect(issued.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(issued.sessionToken.length).toBeGreaterThanOrEqual(1536);
    expect(issued.expiration).toEqual(expiration);
  });

  it('resolves temporary credentials after a restart (a new authority, same master key)', () => {
    const issued = new CredentialAuthority(MASTER, []).issue(
      roleSpec(),
      new Date('2026-12-04T18:00:00Z'),
    );

    const resolved = new CredentialAuthority(MASTER, []).resolve(
      issued.accessKeyId,
      issued.sessionToken,
    );

    expect(resolved).toMatchObject({
      secretAccessKey: issued.secretAccessKey,
      expiration: new Date('2026-12-04T18:00:00Z'),
      temporary: true,
      principal: {
        kind: 'role-session',
        arn: 'arn:aws:sts::222222222222:assumed-role/rds-connect/payments',
        account: '222222222222',
        policyArn: ROLE,
        tags: [{ Key: 'target', Value: 'payments' }],
        transitiveTagKeys: ['target'],
      },
    });
  });

  it('refuses a session token under another master key, another key id, or altered', () => {
    const issued = new CredentialAuthority(MASTER, []).issue(roleSpec(), new Date());
    const other = new CredentialAuthority(MASTER, []).issue(roleSpec(), new Date());
    const altered = Buffer.from(issued.sessionToken, 'base64');
    altered[5] = altered[5]! ^ 0x20;

    const authority = new CredentialAuthority(MASTER, []);

    expect(
      new CredentialAuthority(OTHER_MASTER, []).resolve(issued.accessKeyId, issued.sessionToken),
    ).toBeUndefined();
    expect(authority.resolve(other.accessKeyId, issued.sessionToken)).toBeUndefined();
    expect(authority.resolve(issued.accessKeyId, altered.toString('base64'))).toBeUndefined();
    expect(authority.resolve(issued.accessKeyId)).toBeUndefined();
  });

  it('refuses an unknown user key and a user key sent with a session token', () => {
    const authority = new CredentialAuthority(MASTER, [USER]);
    const keys = deriveUserKeys(MASTER, USER);

    expect(authority.resolve('AKIAIOSFODNN7EXAMPLE')).toBeUndefined();
    expect(authority.resolve(keys.accessKeyId, 'token')).toBeUndefined();
  });

  it('gives each session its own secret', () => {
    const authority = new CredentialAuthority(MASTER, []);

    const a = authority.issue(roleSpec(), new Date());
    const b = authority.issue(roleSpec(), new Date());

    expect(a.secretAccessKey).not.toBe(b.secretAccessKey);
    expect(a.sessionToken).not.toBe(b.sessionToken);
  });
});
