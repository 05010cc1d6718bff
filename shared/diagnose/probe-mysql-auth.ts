/**
 * Asks a MySQL/MariaDB server which authentication a user has, without a token: IAM users
 * (AWSAuthenticationPlugin on RDS, PAM in the sandbox) make the server switch the client to
 * `mysql_clear_password`; password users never do. The probe logs in over verified TLS with
 * no password and hangs up at the switch, so nothing secret is ever sent. A password user sees
 * one failed login with an empty password ("using password: NO") in the server's log.
 */
import type { AuthPlugin } from 'mysql2';
import { loadTlsTrust } from '#shared/db/tls-trust.ts';

export interface MysqlProbeTarget {
  host: string;
  port: number;
  user: string;
  database?: string;
  ca: string;
  serverName: string;
}

/**
 * Resolves true when the server asked for mysql_clear_password, false when it answered the
 * login without asking, undefined when it could not tell (TLS failed, no answer, aborted).
 */
export async function probeMysqlClearPassword(
  target: MysqlProbeTarget,
  signal: AbortSignal,
): Promise<boolean | undefined> {
  let asked = false;
  const trust = await loadTlsTrust(target.ca).catch(() => undefined);
  if (!trust) return undefined;
  const { default: mysql } = await import('mysql2');

  const stopAtSwitch: AuthPlugin = () => () => {
    asked = true;
    throw Object.assign(new Error('probe: stop at the clear-password switch'), {
      code: 'PROBE_STOP',
    });
  };
  const connection = mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    ...(target.database === undefined ? {} : { database: target.database }),
    ssl: { ca: trust.ca, rejectUnauthorized: true, verifyIdentity: false },
    connectTimeout: 0,
    authPlugins: { mysql_clear_password: stopAtSwitch },
  });
  connection.on('error', () => {});
  let onAbort = () => connection.destroy();

  try {
    const error = await new Promise<unknown>((resolve) => {
      onAbort = () => {
        connection.destroy();
        resolve(null);
      };
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      connection.once('connect', () => resolve(null));
      connection.once('error', resolve);
    });
    if (asked) return true;
    const errno = (error as { errno?: unknown } | null)?.errno;
    // 1045 / 1698: the server refused the login itself, without any plugin switch.
    if (errno === 1045 || errno === 1698) return false;
    return undefined;
  } finally {
    signal.removeEventListener('abort', onAbort);
    connection.destroy();
  }
}
