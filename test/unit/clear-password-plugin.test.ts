import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Connection } from 'mysql2';
import { describe, expect, it } from 'vitest';
import { clearPasswordOverTlsOnly } from '#shared/db/connect-mysql.ts';

function answerOn(stream: unknown, onRefused: () => void) {
  const plugin = clearPasswordOverTlsOnly(() => 'the-token', onRefused);
  const connection = { stream } as unknown as Connection;
  return plugin({ connection, command: 'auth' })(Buffer.alloc(0));
}

describe('clearPasswordOverTlsOnly', () => {
  it('refuses to answer on a plain TCP socket', () => {
    let refused = false;
    const socket = new Socket();

    try {
      expect(() =>
        answerOn(socket, () => {
          refused = true;
        }),
      ).toThrow(expect.objectContaining({ code: 'CLEARTEXT_WITHOUT_TLS' }));
      expect(refused).toBe(true);
    } finally {
      socket.destroy();
    }
  });

  it('refuses to answer on a TLS socket whose peer was not verified', () => {
    const socket = new TLSSocket(new Socket());

    try {
      expect(() => answerOn(socket, () => {})).toThrow(
        expect.objectContaining({ code: 'CLEARTEXT_WITHOUT_TLS' }),
      );
    } finally {
      socket.destroy();
    }
  });

  it('refuses when the connection has no stream at all', () => {
    expect(() => answerOn(undefined, () => {})).toThrow(
      expect.objectContaining({ code: 'CLEARTEXT_WITHOUT_TLS' }),
    );
  });
});
