import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EndpointRateLimiter } from '#shared/check/rate-limiter.ts';

describe('EndpointRateLimiter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  function startTimes(limiter: EndpointRateLimiter, key: string, count: number): number[] {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      void limiter.acquire(key).then(() => times.push(Date.now()));
    }
    return times;
  }

  it('spaces starts evenly at the limit, the first at once', async () => {
    const limiter = new EndpointRateLimiter(4, { now: () => Date.now() });
    const t0 = Date.now();

    const times = startTimes(limiter, 'a:5432', 6);
    await vi.advanceTimersByTimeAsync(2000);

    expect(times.map((t) => t - t0)).toEqual([0, 250, 500, 750, 1000, 1250]);
  });

  it('never grants more than the limit in any one-second window', async () => {
    const limiter = new EndpointRateLimiter(5, { now: () => Date.now() });
    const times: number[] = [];

    for (let i = 0; i < 40; i++) {
      void limiter.acquire('a:5432').then(() => times.push(Date.now()));
      await vi.advanceTimersByTimeAsync(37);
    }
    await vi.advanceTimersByTimeAsync(10_000);

    expect(times).toHaveLength(40);
    for (const start of times) {
      const inWindow = times.filter((t) => t >= start && t < start + 1000);
      expect(inWindow.length).toBeLessThanOrEqual(5);
    }
  });

  it('keeps endpoints independent', async () => {
    const limiter = new EndpointRateLimiter(1, { now: () => Date.now() });

    const a = startTimes(limiter, 'a:5432', 2);
    const b = startTimes(limiter, 'b:5432', 1);
    await vi.advanceTimersByTimeAsync(0);

    expect(a).toHaveLength(1);
    expect(b).toHaveLength(1);
  });

  it('rejects a waiter whose signal aborts and gives its slot to the next', async () => {
    const limiter = new EndpointRateLimiter(1, { now: () => Date.now() });
    const controller = new AbortController();
    await limiter.acquire('a:1');

    const aborted = limiter.acquire('a:1', controller.signal);
    const next = startTimes(limiter, 'a:1', 1);
    controller.abort(new Error('stop'));

    await expect(aborted).rejects.toThrow('stop');
    await vi.advanceTimersByTimeAsync(1000);
    expect(next).toHaveLength(1);
  });

  it('leaves no ref’d timer behind while waiting', async () => {
    const limiter = new EndpointRateLimiter(1, { now: () => Date.now() });
    await limiter.acquire('a:1');

    void limiter.acquire('a:1');

    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(vi.getTimerCount()).toBe(0);
  });
});
