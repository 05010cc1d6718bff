import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeServerGreeting } from '#shared/diagnose/probe-server-greeting.ts';

const servers: Server[] = [];

/** A loopback server that runs `greet` on each connection; its port. */
async function listen(greet: (socket: Socket) => void): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    greet(socket);
  });
  server.on('close', () => {
    for (const socket of sockets) socket.destroy();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('probeServerGreeting', () => {
  it('reads a protocol 10 handshake as MySQL', async () => {
    const port = await listen((socket) => socket.write(Buffer.from([5, 0, 0, 0, 0x0a, 0x35])));

    const greeting = await probeServerGreeting(
      { host: '127.0.0.1', port },
      new AbortController().signal,
    );

    expect(greeting).toBe('mysql');
  });

  it('reads a server that waits for the client as silent', async () => {
    const port = await listen(() => {});

    const greeting = await probeServerGreeting(
      { host: '127.0.0.1', port },
      new AbortController().signal,
    );

    expect(greeting).toBe('silent');
  });

  it('answers undefined when aborted', async () => {
    const port = await listen(() => {});
    const controller = new AbortController();
    controller.abort();

    const greeting = await probeServerGreeting({ host: '127.0.0.1', port }, controller.signal);

    expect(greeting).toBeUndefined();
  });
});
