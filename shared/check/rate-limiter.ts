/**
 * A per-endpoint limit on new IAM logins. RDS throttles IAM-authenticated connections per
 * instance; the canary must never be the one that trips it (field case F7).
 */

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

interface Endpoint {
  /** The earliest time the next connection may start. */
  nextAt: number;
  waiters: Waiter[];
  timer: ReturnType<typeof setTimeout> | undefined;
}

export interface RateLimiterOptions {
  /** Clock in milliseconds. Left out: performance.now. */
  now?: () => number;
  /**
   * How much the delay between a grant and the moment the server counts it may vary, in ms.
   * Grants are spaced as if the one-second window were this much longer, so that `perSecond + 1`
   * grants span at least 1000 + jitterMs ms and the server still sees at most `perSecond` in
   * any second when one login reaches it that much sooner than another. Left out: 0.
   */
  jitterMs?: number;
}

/**
 * Grants at most `perSecond` turns per endpoint in any one-second window by spacing them at
 * least (1000 + jitterMs) / perSecond ms apart. No bursts: a burst that the server sees a
 * little later than the next one (login latency varies) could put twice the limit in one of
 * its windows; evenly spaced turns put at most one extra there, and `jitterMs` covers that one.
 * Waiters are served first come, first served; the timers are unref'd and never keep a process
 * alive.
 *
 * @example
 * const limiter = new EndpointRateLimiter(10, { jitterMs: 50 });
 * await limiter.acquire('orders.example:5432', signal); // then hand the token to the server
 */
export class EndpointRateLimiter {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly now: () => number;
  private readonly intervalMs: number;

  constructor(
    readonly perSecond: number,
    options: RateLimiterOptions = {},
  ) {
    if (!(perSecond > 0)) throw new RangeError('perSecond must be above 0');
    const jitterMs = options.jitterMs ?? 0;
    if (!(jitterMs >= 0)) throw new RangeError('jitterMs must be 0 or more');
    this.now = options.now ?? (() => performance.now());
    this.intervalMs = (1000 + jitterMs) / perSecond;
  }

  /**
   * Resolves when a connection to `key` may start. Rejects with the signal's reason if it
   * aborts first (the slot then goes to the next waiter).
   */
  acquire(key: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);

    const endpoint = this.endpoint(key);
    if (endpoint.waiters.length === 0 && this.tryStart(endpoint)) return Promise.resolve();

    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = endpoint.waiters.indexOf(waiter);
          if (at >= 0) endpoint.waiters.splice(at, 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      endpoint.waiters.push(waiter);
      this.schedule(endpoint);
    });
  }

  private endpoint(key: string): Endpoint {
    let endpoint = this.endpoints.get(key);
    if (!endpoint) {
      endpoint = { nextAt: -Infinity, waiters: [], timer: undefined };
      this.endpoints.set(key, endpoint);
    }
    return endpoint;
  }

  private tryStart(endpoint: Endpoint): boolean {
    const now = this.now();
    if (now < endpoint.nextAt) return false;
    endpoint.nextAt = now + this.intervalMs;
    return true;
  }

  private schedule(endpoint: Endpoint): void {
    if (endpoint.timer !== undefined || endpoint.waiters.length === 0) return;
    const wait = Math.max(0, endpoint.nextAt - this.now());
    endpoint.timer = setTimeout(() => {
      endpoint.timer = undefined;
      this.drain(endpoint);
    }, Math.ceil(wait));
    endpoint.timer.unref?.();
  }

  private drain(endpoint: Endpoint): void {
    if (endpoint.waiters.length > 0 && this.tryStart(endpoint)) {
      const waiter = endpoint.waiters.shift()!;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
    this.schedule(endpoint);
  }
}
