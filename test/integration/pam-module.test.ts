/**
 * The PAM module (sandbox/pam/pam_rds_iam_canary.c, built by `sandbox up` into STATE/lib)
 * against a throwaway verifier socket of the test's own, driven by a tiny PAM application
 * (test/support/pam-harness.c) that reads its service file from a temporary directory.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statePaths } from '#sandbox/servers/state-paths.ts';
import { readSandboxEnv } from '../support/sandbox.ts';

const run = promisify(execFile);
const harnessSource = fileURLToPath(new URL('../support/pam-harness.c', import.meta.url));

let dir: string;
let harness: string;
let server: Server;
let answer: (request: string, socket: Socket) => void;
const requests: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pam-module-'));
  harness = join(dir, 'pam-harness');
  await run('gcc', ['-O1', '-Wall', '-o', harness, harnessSource, '-lpam']);

  const module = statePaths(readSandboxEnv().stateDir).pamModule;
  const socketPath = join(dir, 'verifier.sock');
  writeFileSync(
    join(dir, 'verify'),
    `auth required ${module} socket=${socketPath} instance=orders tls=required\n`,
  );
  writeFileSync(join(dir, 'nosocket'), `auth required ${module} socket=${dir}/none instance=x\n`);
  writeFileSync(join(dir, 'badargs'), `auth required ${module} instance=x\n`);

  server = createServer((socket) => {
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk;
      if (!text.endsWith('\n\n')) return;
      requests.push(text);
      answer(text, socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function authenticate(service: string, user: string, password: string) {
  const child = execFile(harness, [dir, service, user, '10.1.2.3'], { encoding: 'utf8' });
  child.stdin!.end(password);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return code === 0 ? 'PAM_SUCCESS' : 'refused';
}

describe('pam_rds_iam_canary', () => {
  it('sends the whole request and accepts ALLOW', async () => {
    answer = (_, socket) => socket.end('ALLOW\n');
    const token = `host:5432/?Action=connect&X-Amz-Security-Token=${'A'.repeat(3000)}`;
    requests.length = 0;

    const result = await authenticate('verify', 'canary_iam', token);

    expect(result).toBe('PAM_SUCCESS');
    expect(requests).toEqual([
      `RDSIAM/1\ninstance=orders\nuser=canary_iam\nrhost=10.1.2.3\ntls=required\ntoken=${token}\n\n`,
    ]);
  });

  it('refuses on DENY', async () => {
    answer = (_, socket) => socket.end('DENY BAD_SIGNATURE\n');

    expect(await authenticate('verify', 'canary_iam', 'token')).toBe('refused');
  });

  it('refuses on an answer that is neither ALLOW nor DENY', async () => {
    answer = (_, socket) => socket.end('ALLOWED\n');

    expect(await authenticate('verify', 'canary_iam', 'token')).toBe('refused');
  });

  it('refuses when the verifier closes without answering', async () => {
    answer = (_, socket) => socket.end();

    expect(await authenticate('verify', 'canary_iam', 'token')).toBe('refused');
  });

  it('refuses a token with a line break without asking the verifier', async () => {
    answer = (_, socket) => socket.end('ALLOW\n');
    requests.length = 0;

    const result = await authenticate('verify', 'canary_iam', 'token\nuser=root');

    expect(result).toBe('refused');
    expect(requests).toEqual([]);
  });

  it('refuses when the verifier socket does not exist', async () => {
    expect(await authenticate('nosocket', 'canary_iam', 'token')).toBe('refused');
  });

  it('refuses when its arguments lack socket=', async () => {
    expect(await authenticate('badargs', 'canary_iam', 'token')).toBe('refused');
  });

  it('gives up after 5 s when the verifier never answers', async () => {
    answer = () => {};
    const started = Date.now();

    const result = await authenticate('verify', 'canary_iam', 'token');

    expect(result).toBe('refused');
    expect(Date.now() - started).toBeGreaterThanOrEqual(4900);
    expect(Date.now() - started).toBeLessThan(8000);
  }, 15_000);
});
