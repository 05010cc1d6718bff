import { setMaxListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import {
  type AssumedSession,
  AssumeRoleError,
  type AssumeRoleRequest,
  type AwsCredentials,
  CredentialsError,
  defaultSessionName,
  RoleSessionCache,
  refreshTime,
} from '#shared/credentials/assume-role-chain.ts';
import type { RoleHop } from '#shared/report/types.ts';

const MINUTE = 60_000;
const base: AwsCredentials = { accessKeyId: 'AKIABASE', secretAccessKey: 'base-secret' };
const hub: RoleHop = { arn: 'arn:aws:iam::111111111111:role/canary-hub' };
const connect: RoleHop = {
  arn: 'arn:aws:iam::222222222222:role/rds-connect',
  externalId: 'canary-7f3a',
  sessionTags: { team: 'payments' },
};

/** A fake STS: sessions of `lifetimeMs`, every call recorded. */
function fakeSts(clock: { now: number }, lifetimeMs = 60 * MINUTE) {
  const calls: AssumeRoleRequest[] = [];
  let serial = 0;
  const assumeRole = async (request: AssumeRoleRequest): Promise<AssumedSession> => {
    calls.push(request);
    serial++;
    return {
      credentials: {
        accessKeyId: `ASIA${serial}`,
        secretAccessKey: 's',
        sessionToken: 't',
        expiration: new Date(clock.now + lifetimeMs),
      },
      arn: `${request.roleArn.replace(':iam:', ':sts:').replace(':role/', ':assumed-role/')}/${request.sessionName}`,
    };
  };
  return { calls, assumeRole };
}

function makeCache(clock: { now: number }, sts: ReturnType<typeof fakeSts>) {
  return new RoleSessionCache({
    now: () => clock.now,
    assumeRole: sts.assumeRole,
    identify: async () => 'arn:aws:iam::111111111111:user/canary',
  });
}

// One signal shared by many concurrent requests here (a round gives each check its own).
const signal = new AbortController().signal;
setMaxListeners(0, signal);
const provider = async () => base;

describe('RoleSessionCache', () => {
  it('assumes each hop in order with the previous hop’s credentials, in the target’s region', async () => {
    const clock = { now: 0 };
    const sts = fakeSts(clock);
    const cache = makeCache(clock, sts);

    const chain = await cache.resolve({
      roles: [hub, connect],
      region: 'us-east-1',
      baseCredentials: provider,
      signal,
    });

    expect(sts.calls.map((c) => [c.roleArn, c.region, c.credentials.accessKeyId])).toEqual([
      [hub.arn, 'us-east-1', 'AKIABASE'],
      [connect.arn, 'us-east-1', 'ASIA1'],
    ]);
    expect(sts.calls[1]).toMatchObject({
      externalId: 'canary-7f3a',
      sessionTags: { team: 'payments' },
    });
    expect(chain.credentials.accessKeyId).toBe('ASIA2');
    expect(chain.principal).toMatch(/^arn:aws:sts::222222222222:assumed-role\/rds-connect\//);
  });

  it('reuses sessions for every target of the chain and shares a prefix', async () => {
    const clock = { now: 0 };
    const sts = fakeSts(clock);
    const cache = makeCache(clock, sts);
    const request = { region: 'eu-west-1', baseCredentials: provider, signal };

    await cache.resolve({ ...request, roles: [hub, connect] });
    await cache.resolve({ ...request, roles: [hub, connect] });
    await cache.resolve({ ...request, roles: [hub] });

    expect(sts.calls).toHaveLength(2);
    expect(cache.assumeRoleCalls).toBe(2);
  });

  it('shares one in-flight AssumeRole between concurrent requests', async () => {
    const clock = { now: 0 };
    const sts = fakeSts(clock);
    const cache = makeCache(clock, sts);

    await Promise.all(
      Array.from({ length: 20 }, () =>
        cache.resolve({
          roles: [hub, connect],
          region: 'eu-west-1',
          baseCredentials: provider,
          signal,
        }),
      ),
    );

    expect(sts.calls).toHaveLength(2);
  });

  it('keys sessions by region', async () => {
    const clock = { now: 0 };
    const sts = fakeSts(clock);
    const cache = makeCache(clock, sts);

    await cache.resolve({ roles: [hub], region: 'eu-west-1', baseCredentials: provider, signal });
    await cache.resolve({ roles: [hub], region: 'us-east-1', baseCredentials: provider, signal });

    expect(sts.calls).toHaveLength(2);
  });

  it('re-assumes before a session comes within 15 minutes (+ margin) of expiry', async () => {
    const clock = { now: 0 };
    const sts = fakeSts(clock, 60 * MINUTE);
    const cache = makeCache(clock, sts);
    const request = { roles: [hub], region: 'eu-west-1', baseCredentials: provider, signal };
    await cache.resolve(request);

    clock.now = 43 * MINUTE + 59_000; // 16 min 1 s left: still above 15 min + 60 s margin
    await cache.resolve(request);
    const callsBefore = sts.calls.length;
    clock.now = 44 * MINUTE + 1000; // 15 min 59 s left: inside the window
    const chain = await cache.resolve(request);

    expect(callsBefore).toBe(1);
    expect(sts.calls).toHaveLength(2);
    expect(chain.credentials.expiration!.getTime() - clock.now).toBeGreaterThan(15 * MINUTE);
  });

  it('never hands out credentials that expire within 15 minutes when the session allows it', () => {
    for (const lifetimeMin of [20, 30, 60, 720]) {
      const at = refreshTime(0, lifetimeMin * MINUTE, 60_000);

      expect(lifetimeMin * MINUTE - at).toBeGreaterThanOrEqual(15 * MINUTE);
    }
  });

  it('reuses a 900-second session for at most the margin', () => {
    const at = refreshTime(0, 15 * MINUTE, 60_000);

    expect(at).toBe(60_000);
  });

  it('never caches a failed AssumeRole', async () => {
    const clock = { now: 0 };
    const sts = fakeSts(clock);
    let fail = true;
    const cache = new RoleSessionCache({
      now: () => clock.now,
      assumeRole: async (request) => {
        if (fail) {
          sts.calls.push(request);
          throw Object.assign(new Error('not authorized'), {
            name: 'AccessDenied',
            $metadata: { httpStatusCode: 403 },
          });
        }
        return sts.assumeRole(request);
      },
    });
    const request = { roles: [hub], region: 'eu-west-1', baseCredentials: provider, signal };

    const first = await cache.resolve(request).catch((e: unknown) => e);
    fail = false;
    const second = await cache.resolve(request);

    expect(first).toBeInstanceOf(AssumeRoleError);
    expect(first).toMatchObject({
      code: 'AccessDenied',
      roleArn: hub.arn,
      hop: 0,
      httpStatus: 403,
    });
    expect(second.credentials.accessKeyId).toMatch(/^ASIA/);
    expect(sts.calls).toHaveLength(2);
  });

  it('drops the chain’s sessions and refreshes the base credentials on forceRefresh', async () => {
    const clock = { now: 0 };
    const sts = fakeSts(clock);
    const cache = makeCache(clock, sts);
    const refreshes: boolean[] = [];
    const baseCredentials = async (options?: { forceRefresh?: boolean }) => {
      refreshes.push(options?.forceRefresh ?? false);
      return base;
    };
    const request = { roles: [hub, connect], region: 'eu-west-1', baseCredentials, signal };

    await cache.resolve(request);
    await cache.resolve({ ...request, forceRefresh: true });

    expect(sts.calls).toHaveLength(4);
    expect(refreshes).toEqual([false, true]);
  });

  it('wraps a failing base provider in CredentialsError', async () => {
    const cache = makeCache({ now: 0 }, fakeSts({ now: 0 }));
    const failing = async () => {
      throw Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      });
    };

    const error = await cache
      .resolve({ roles: [hub], region: 'eu-west-1', baseCredentials: failing, signal })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CredentialsError);
    expect(error).toMatchObject({ code: 'CredentialsProviderError', phase: 'credentials' });
  });

  it('asks for new base credentials when they expire within 15 minutes', async () => {
    const cache = makeCache({ now: 0 }, fakeSts({ now: 0 }));
    const calls: boolean[] = [];
    const baseCredentials = async (options?: { forceRefresh?: boolean }) => {
      calls.push(options?.forceRefresh ?? false);
      return options?.forceRefresh
        ? { ...base, expiration: new Date(60 * MINUTE) }
        : { ...base, expiration: new Date(10 * MINUTE) };
    };

    const chain = await cache.resolve({ roles: [], region: 'eu-west-1', baseCredentials, signal });

    expect(calls).toEqual([false, true]);
    expect(chain.credentials.expiration?.getTime()).toBe(60 * MINUTE);
    expect(chain.principal).toBe('arn:aws:iam::111111111111:user/canary');
  });

  it('stops waiting when the caller’s signal aborts, without failing the shared call', async () => {
    const clock = { now: 0 };
    const sts = fakeSts(clock);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const cache = new RoleSessionCache({
      now: () => clock.now,
      assumeRole: async (request) => {
        await gate;
        return sts.assumeRole(request);
      },
    });
    const controller = new AbortController();
    const request = { roles: [hub], region: 'eu-west-1', baseCredentials: provider };

    const impatient = cache.resolve({ ...request, signal: controller.signal });
    const patient = cache.resolve({ ...request, signal });
    controller.abort(new Error('budget'));
    release();

    await expect(impatient).rejects.toThrow('budget');
    await expect(patient).resolves.toMatchObject({
      principal: expect.stringContaining('canary-hub'),
    });
    expect(sts.calls).toHaveLength(1);
  });

  it('asks who the base credentials belong to once, for concurrent checks too', async () => {
    let asked = 0;
    const cache = new RoleSessionCache({
      identify: async () => {
        asked++;
        return 'arn:aws:iam::111111111111:user/canary';
      },
    });
    const request = { roles: [], region: 'eu-west-1', baseCredentials: provider, signal };

    const chains = await Promise.all(Array.from({ length: 5 }, () => cache.resolve(request)));
    await cache.resolve(request);

    expect(asked).toBe(1);
    expect(chains.every((c) => c.principal === 'arn:aws:iam::111111111111:user/canary')).toBe(true);
  });

  it('reports the principal unknown rather than wait on a hung identity call', async () => {
    vi.useFakeTimers();
    try {
      const cache = new RoleSessionCache({ identify: () => new Promise<string>(() => {}) });

      const pending = cache.resolve({
        roles: [],
        region: 'eu-west-1',
        baseCredentials: provider,
        signal,
      });
      await vi.advanceTimersByTimeAsync(1000);

      await expect(pending).resolves.toMatchObject({ principal: null });
    } finally {
      vi.useRealTimers();
    }
  });

  it('names sessions after the chain, within 64 characters', () => {
    const name = defaultSessionName([hub, connect], 'eu-west-1');

    expect(name).toMatch(/^rds-iam-canary-[0-9a-f]{16}$/);
    expect(name.length).toBeLessThanOrEqual(64);
    expect(defaultSessionName([hub, connect], 'eu-west-1')).toBe(name);
    expect(defaultSessionName([hub], 'eu-west-1')).not.toBe(name);
  });
});
