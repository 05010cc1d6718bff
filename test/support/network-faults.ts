/**
 * Loopback servers that misbehave on purpose, for the check's network outcomes. Everything
 * listens on 127.0.0.1 only; every helper returns a `close` that frees it all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface FaultServer {
  port: number;
  /** Every byte any client sent, in order of arrival. */
  received: Buffer[];
  close: () => Promise<void>;
}

/** A port nothing listens on: connecting is refused (RST) at once. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * A port whose SYNs are dropped: a listener in a stopped child process whose accept queue is
 * full, so the kernel silently discards new connection attempts (TCP is never established,
 * as behind a security group that drops). No firewall needed.
 */
export async function droppingPort(): Promise<FaultServer> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer();" +
        "s.listen({host:'127.0.0.1',port:0,backlog:1},()=>process.stdout.write(String(s.address().port)+'\\n'))",
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(String(chunk).trim());
  child.kill('SIGSTOP');

  // Fill the accept queue until a connection attempt goes unanswered.
  const fillers: Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await Promise.race([
      once(socket, 'connect').then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 200)),
    ]);
    if (!connected) break;
  }

  return {
    port,
    received: [],
    close: async () => {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

/**
 * A server that runs `onConnection` for every client (default: accept and never speak) and
 * records what clients send.
 */
export async function scriptedServer(
  onConnection: (socket: Socket, received: Buffer[]) => void = () => {},
): Promise<FaultServer> {
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (data) => received.push(data));
    onConnection(socket, received);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };

  return {
    port,
    received,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A PostgreSQL-speaking server that answers the SSLRequest with 'N' (no TLS here). */
export function postgresWithoutTls(): Promise<FaultServer> {
  return scriptedServer((socket) => {
    socket.once('data', () => socket.write('N'));
  });
}

/**
 * A MySQL-speaking server whose greeting offers no TLS (no CLIENT_SSL) and asks for
 * mysql_clear_password: a client that sends a password here sends it in clear text.
 */
export function mysqlWithoutTls(): Promise<FaultServer> {
  return scriptedServer((socket) => socket.write(mysqlGreetingWithoutTls()));
}

function mysqlGreetingWithoutTls(): Buffer {
  const CLIENT_LONG_PASSWORD = 0x1;
  const CLIENT_CONNECT_WITH_DB = 0x8;
  const CLIENT_PROTOCOL_41 = 0x200;
  const CLIENT_SECURE_CONNECTION = 0x8000;
  const CLIENT_PLUGIN_AUTH = 0x80000;
  const capabilities =
    CLIENT_LONG_PASSWORD |
    CLIENT_CONNECT_WITH_DB |
    CLIENT_PROTOCOL_41 |
    CLIENT_SECURE_CONNECTION |
    CLIENT_PLUGIN_AUTH;

  const lower = Buffer.alloc(2);
  lower.writeUInt16LE(capabilities & 0xffff);
  const upper = Buffer.alloc(2);
  upper.writeUInt16LE(capabilities >>> 16);
  const payload = Buffer.concat([
    Buffer.from([0x0a]),
    Buffer.from('8.0.0-fake\0'),
    Buffer.from([1, 0, 0, 0]),
    Buffer.from('abcdefgh'),
    Buffer.from([0]),
    lower,
    Buffer.from([0x21]),
    Buffer.from([0x02, 0x00]),
    upper,
    Buffer.from([21]),
    Buffer.alloc(10),
    Buffer.from('ijklmnopqrst\0'),
    Buffer.from('mysql_clear_password\0'),
  ]);
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = 0;
  return Buffer.concat([header, payload]);
}
