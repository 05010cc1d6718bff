import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { LoginRequest } from './verify-token.ts';

/**
 * The Unix socket the PAM module talks to (sandbox/DESIGN.md, "PAM module <-> daemon
 * protocol"): one request per connection, a header line `RDSIAM/1`, `key=value` lines,
 * a blank line; the answer is one line, `ALLOW` or `DENY <REASON>`.
 */

// A token signed with temporary credentials is 1 to 3 KB; anything far bigger is junk.
const MAX_REQUEST_BYTES = 64 * 1024;
// The PAM module gives up after 5 s; a client that sends nothing is dropped sooner or later.
const READ_TIMEOUT_MS = 5000;

export type LoginDecider = (request: LoginRequest) => { decision: string; reason: string | null };

/** Parses one request; undefined when it does not follow the protocol. */
export function parseLoginRequest(text: string): LoginRequest | undefined {
  const lines = text.split('\n');
  if (lines[0] !== 'RDSIAM/1') return undefined;

  const fields = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const eq = line.indexOf('=');
    if (eq <= 0) return undefined;
    fields.set(line.slice(0, eq), line.slice(eq + 1));
  }

  const instance = fields.get('instance');
  const user = fields.get('user');
  const token = fields.get('token');
  if (!instance || user === undefined || token === undefined) return undefined;
  return { instance, user, rhost: fields.get('rhost') ?? '', tls: fields.get('tls') ?? '', token };
}

export function answerLine(decision: { decision: string; reason: string | null }): string {
  return decision.decision === 'ALLOW'
    ? 'ALLOW\n'
    : `DENY ${decision.reason ?? 'MALFORMED_TOKEN'}\n`;
}

/** Listens on `socketPath` (removing a stale socket first), mode 0666. */
export async function startVerifierSocket(
  socketPath: string,
  decide: LoginDecider,
): Promise<Server> {
  await removeStaleSocket(socketPath);
  const server = createServer((socket) => handleConnection(socket, decide));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o666);
  return server;
}

function handleConnection(socket: Socket, decide: LoginDecider): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let answered = false;

  socket.setTimeout(READ_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());

  const answer = (line: string) => {
    answered = true;
    socket.end(line);
  };

  socket.on('data', (chunk: Buffer) => {
    if (answered) return;
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) {
      answer('DENY MALFORMED_TOKEN\n');
      return;
    }

    const text = Buffer.concat(chunks).toString('utf8');
    if (!text.includes('\n\n')) return;

    const request = parseLoginRequest(text);
    if (!request) {
      answer('DENY MALFORMED_TOKEN\n');
      return;
    }
    try {
      answer(answerLine(decide(request)));
    } catch {
      // An internal failure must never become an ALLOW; the PAM module treats any other
      // answer as a refusal, and so does this one.
      answer('DENY MALFORMED_TOKEN\n');
    }
  });
}

/** Removes a socket left by a daemon that died; refuses to take a live one's place. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  if (!existsSync(socketPath)) return;
  if (!lstatSync(socketPath).isSocket()) {
    throw new Error(`${socketPath} exists and is not a socket: remove it by hand`);
  }
  if (await isListening(socketPath)) {
    throw new Error(`${socketPath} is served by a running daemon: stop it first`);
  }
  unlinkSync(socketPath);
}

function isListening(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
