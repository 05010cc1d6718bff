/**
 * The IAM authentication throttle of an RDS instance: at most `limit` new IAM connections
 * in any one-second window (a sliding window per instance).
 */
export class ConnectionThrottle {
  readonly #windows = new Map<string, number[]>();
  readonly #windowMs: number;

  constructor(windowMs = 1000) {
    this.#windowMs = windowMs;
  }

  /**
   * Records one connection at `nowMs` unless `limit` were already accepted in the window;
   * returns false (and records nothing) when the connection is over the limit.
   */
  tryAcquire(instance: string, limit: number, nowMs: number): boolean {
    const window = this.#windows.get(instance) ?? [];
    const since = nowMs - this.#windowMs;
    while (window.length > 0 && window[0]! <= since) window.shift();

    if (window.length >= limit) {
      this.#windows.set(instance, window);
      return false;
    }
    window.push(nowMs);
    this.#windows.set(instance, window);
    return true;
  }

  /** Accepted connections in the current window (for log details). */
  count(instance: string): number {
    return this.#windows.get(instance)?.length ?? 0;
  }

  reset(): void {
    this.#windows.clear();
  }
}
