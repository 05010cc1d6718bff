/**
 * Injected failures for reliability tests: the next `count` calls to a service answer
 * `status` with that service's AWS error shape (POST /_sandbox/faults).
 */
export class FaultInjector {
  readonly #pending = new Map<string, { status: number; remaining: number }>();

  set(service: string, status: number, count: number): void {
    if (count <= 0) this.#pending.delete(service);
    else this.#pending.set(service, { status, remaining: count });
  }

  /** The status to fail this call with, counting it; undefined when none is pending. */
  take(service: string): number | undefined {
    const fault = this.#pending.get(service);
    if (!fault) return undefined;

    fault.remaining -= 1;
    if (fault.remaining <= 0) this.#pending.delete(service);
    return fault.status;
  }

  reset(): void {
    this.#pending.clear();
  }
}
