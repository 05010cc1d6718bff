/**
 * Tells which protocol a port speaks by what it says unprompted: a MySQL/MariaDB server sends
 * its handshake (protocol version 10) as soon as TCP is up; a PostgreSQL server says nothing
 * until the client speaks. Nothing is sent, so nothing is logged as a failed login.
 */
import { connect } from 'node:net';

/** How long a silent server is waited for: a MySQL greeting comes within one round trip. */
const SILENCE_MS = 400;

/** MySQL's handshake packet: protocol version 10. An 0xff first byte is an error packet. */
const MYSQL_HANDSHAKE_V10 = 0x0a;
const MYSQL_ERROR_PACKET = 0xff;

export type Greeting = 'mysql' | 'silent' | 'other';

/**
 * Resolves 'mysql' when the server greets like MySQL, 'silent' when it says nothing within
 * 400 ms (as PostgreSQL does), 'other' for any other first bytes, undefined when TCP fails
 * or `signal` aborts first.
 *
 * @example await probeServerGreeting({ host: 'db.example', port: 5432 }, signal) // 'silent'
 */
export function probeServerGreeting(
  target: { host: string; port: number },
  signal: AbortSignal,
): Promise<Greeting | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    let timer: NodeJS.Timeout | undefined;
    const finish = (answer: Greeting | undefined) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(answer);
    };
    const onAbort = () => finish(undefined);

    if (signal.aborted) return finish(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', () => finish(undefined));
    socket.once('connect', () => {
      timer = setTimeout(() => finish('silent'), SILENCE_MS);
      timer.unref?.();
    });
    socket.once('data', (data: Buffer) => {
      // 3-byte length, 1-byte sequence (0), then the payload's first byte.
      const first = data.length > 4 && data[3] === 0 ? data[4] : undefined;
      finish(first === MYSQL_HANDSHAKE_V10 || first === MYSQL_ERROR_PACKET ? 'mysql' : 'other');
    });
  });
}
