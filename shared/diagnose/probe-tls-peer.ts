/**
 * Reads the certificate a database server presents, for the evidence of a TLS failure
 * (field case F2: name the issuer). It opens its own connection, asks the server to start TLS
 * the way its engine does (PostgreSQL SSLRequest, MySQL SSL request packet), reads the peer
 * certificate and hangs up. It sends no user name, password or token: reading a certificate
 * without verifying it is safe because nothing is trusted to that connection.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type PeerCertificate } from 'node:tls';
import type { Engine } from '#shared/report/types.ts';
import type { TlsPeer } from './classify-evidence.ts';

/** PostgreSQL's SSLRequest: length 8, code 80877103. */
const PG_SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** MySQL capability flags for the SSL request: PROTOCOL_41, SSL, SECURE_CONNECTION. */
const MYSQL_SSL_CAPABILITIES = 0x200 | 0x800 | 0x8000;

export interface ProbeTarget {
  engine: Engine;
  host: string;
  port: number;
  /** SNI name (the target's tls.serverName, else host). */
  serverName: string;
}

/**
 * Returns the presented certificate's subject and issuer, or undefined when the server could
 * not be reached, refused TLS, or `signal` aborted first. Never throws.
 */
export async function probeTlsPeer(
  target: ProbeTarget,
  signal: AbortSignal,
): Promise<TlsPeer | undefined> {
  let socket: Socket | undefined;
  const onAbort = () => socket?.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    socket = connectTcp({ host: target.host, port: target.port });
    await once(socket, 'connect');
    if (target.engine === 'postgres') await startPostgresTls(socket);
    else await startMysqlTls(socket);

    const tls = connectTls({
      socket,
      servername: target.serverName,
      // Only to read what the server presents; nothing is sent over this connection.
      rejectUnauthorized: false,
    });
    await once(tls, 'secureConnect');
    const cert = tls.getPeerCertificate(false);
    tls.destroy();
    return describe(cert);
  } catch {
    return undefined;
  } finally {
    signal.removeEventListener('abort', onAbort);
    socket?.destroy();
  }
}

async function startPostgresTls(socket: Socket): Promise<void> {
  socket.write(PG_SSL_REQUEST);
  const answer = await readBytes(socket, 1);
  if (answer[0] !== 0x53) throw new Error('the server does not offer TLS');
}

async function startMysqlTls(socket: Socket): Promise<void> {
  const header = await readBytes(socket, 4);
  const length = header.readUIntLE(0, 3);
  await readBytes(socket, length);

  const payload = Buffer.alloc(32);
  payload.writeUInt32LE(MYSQL_SSL_CAPABILITIES, 0);
  payload.writeUInt32LE(16 * 1024 * 1024, 4);
  payload[8] = 33; // utf8_general_ci
  const packet = Buffer.alloc(4);
  packet.writeUIntLE(payload.length, 0, 3);
  packet[3] = 1; // sequence id after the server's greeting
  socket.write(Buffer.concat([packet, payload]));
}

/** Reads exactly n bytes, unshifting any surplus back onto the socket. */
function readBytes(socket: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < n) return;
      cleanup();
      if (buffered.length > n) socket.unshift(buffered.subarray(n));
      resolve(buffered.subarray(0, n));
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('the server closed the connection'));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onEnd);
      socket.off('close', onEnd);
      socket.pause();
    };
    socket.on('data', onData);
    socket.once('error', onEnd);
    socket.once('close', onEnd);
    // A stream paused on purpose stays paused when a 'data' listener is added.
    socket.resume();
  });
}

function once(emitter: Socket, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    emitter.once(event, () => resolve());
    emitter.once('error', reject);
    emitter.once('close', () => reject(new Error('closed')));
  });
}

function describe(cert: PeerCertificate): TlsPeer | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  return {
    subject: distinguishedName(cert.subject as unknown as DistinguishedName),
    issuer: distinguishedName(cert.issuer as unknown as DistinguishedName),
    validTo: cert.valid_to,
  };
}

type DistinguishedName = Record<string, string | string[] | undefined>;

function distinguishedName(name: DistinguishedName | undefined): string {
  if (!name) return '(none)';
  return ['CN', 'OU', 'O', 'C']
    .filter((key) => name[key] !== undefined)
    .map((key) => `${key}=${([] as string[]).concat(name[key]!).join('+')}`)
    .join(', ');
}
