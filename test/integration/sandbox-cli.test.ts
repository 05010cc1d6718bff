/**
 * `rds-iam-canary sandbox ...` as a user runs it (the bundled CLI in a child process),
 * against the sandbox that test/global-setup.ts brought up. Bad input must end with one line
 * `sandbox: <what>: <what to do>`, exit 2, and change nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSandboxEnv } from '../support/sandbox.ts';

const CLI = fileURLToPath(new URL('../../bin/rds-iam-canary.mjs', import.meta.url));
const DEFAULT_FIXTURE = fileURLToPath(
  new URL('../../sandbox/fixture.default.yaml', import.meta.url),
);

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sandbox-cli-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function sandbox(...args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [CLI, 'sandbox', ...args], (error, stdout, stderr) => {
      resolve({ code: error ? (error.code as number | null) : 0, stdout, stderr });
    });
  });
}

function statusLines(stdout: string): string[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' '));
}

describe('sandbox CLI', () => {
  it('reports every server up with exit 0', async () => {
    const result = await sandbox('status');

    expect(result.code).toBe(0);
    const lines = statusLines(result.stdout);
    expect(lines).toHaveLength(readSandboxEnv().instances.length + 1);
    for (const line of lines) expect(line).toMatch(/ pid \d+ up$/);
  });

  it('prints env.json with --json and export lines without', async () => {
    const json = await sandbox('env', '--json');
    const exports = await sandbox('env');

    expect(JSON.parse(json.stdout)).toEqual(readSandboxEnv());
    expect(exports.stdout).toContain(
      `export AWS_ENDPOINT_URL=${readSandboxEnv().AWS_ENDPOINT_URL}`,
    );
  });

  it('changes nothing on a second up with everything running', async () => {
    const before = (await sandbox('status')).stdout;

    const result = await sandbox('up');

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect((await sandbox('status')).stdout).toBe(before);
  });

  it('refuses a malformed fixture with one line and exit 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'accounts: {}\ninstances: [{ name: x }]\n');

    const result = await sandbox('up', '--fixture', file);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sandbox: fixture .*: .+\n$/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    ['a directory', () => dir, /not a regular file \(a directory\)/],
    ['/dev/zero', () => '/dev/zero', /not a regular file \(a device\)/],
    [
      'a misspelt top-level key',
      () => {
        const file = join(dir, 'typo.yaml');
        writeFileSync(
          file,
          readFileSync(DEFAULT_FIXTURE, 'utf8').replace(/^accounts:/m, 'acounts:'),
        );
        return file;
      },
      /unknown key "acounts" \(did you mean accounts\?\)/,
    ],
  ])('refuses %s as the fixture with a fixture error', async (_, fixture, reason) => {
    const before = (await sandbox('status')).stdout;

    const result = await sandbox('up', '--fixture', fixture());

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sandbox: fixture .*: .+\n$/);
    expect(result.stderr).toMatch(reason);
    expect(result.stderr).not.toContain('unexpected failure');
    expect((await sandbox('status')).stdout).toBe(before);
  });

  it('refuses a port held by another program and leaves the sandbox as it was', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    const file = join(dir, 'port.yaml');
    writeFileSync(
      file,
      readFileSync(DEFAULT_FIXTURE, 'utf8').replace('port: 15434', `port: ${port}`),
    );
    const hostsBefore = readFileSync('/etc/hosts', 'utf8');
    const before = (await sandbox('status')).stdout;

    try {
      const result = await sandbox('up', '--fixture', file);

      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `sandbox: port ${port} (instances legacy) is already in use by another program: ` +
          'stop that program or give the fixture another port (sandbox up --fixture FILE)\n',
      );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    expect((await sandbox('status')).stdout).toBe(before);
    expect(readFileSync('/etc/hosts', 'utf8')).toBe(hostsBefore);
  });

  it('refuses an unknown option with exit 2', async () => {
    const result = await sandbox('down', '--everything');

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sandbox: .*--everything.*\n$/);
  });
});
