import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './run-command.ts';
import type { StatePaths } from './state-paths.ts';

// Both servers accept P-256 keys, and they are generated in milliseconds.
const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const CA_DAYS = '3650';
// 825 days: the longest validity that strict TLS clients accept for a server certificate.
const SERVER_DAYS = '825';

/** The names the server certificate must be valid for: every instance host, plus loopback. */
export function certificateNames(hosts: string[]): string[] {
  return [...new Set([...hosts, 'localhost', '127.0.0.1'])];
}

/**
 * Creates the private CA once, and the one server certificate whenever its list of names
 * differs from the fixture's. Returns true when the server certificate was (re)issued,
 * so running servers know to reload it.
 */
export async function ensureCertificates(paths: StatePaths, hosts: string[]): Promise<boolean> {
  mkdirSync(paths.tlsDir, { recursive: true, mode: 0o755 });
  const caCreated = await ensureCa(paths);

  const names = certificateNames(hosts);
  const namesFile = join(paths.tlsDir, 'server.names');
  const wanted = `${names.join('\n')}\n`;
  const current = existsSync(namesFile) ? readFileSync(namesFile, 'utf8') : '';
  if (!caCreated && current === wanted && existsSync(paths.serverCert)) return false;

  await issueServerCertificate(paths, names);
  writeFileSync(namesFile, wanted);
  return true;
}

async function ensureCa(paths: StatePaths): Promise<boolean> {
  if (existsSync(paths.caCert) && existsSync(paths.caKey)) return false;

  await runCommand('openssl', [
    'req',
    '-x509',
    ...KEY_ARGS,
    '-keyout',
    paths.caKey,
    '-out',
    paths.caCert,
    '-days',
    CA_DAYS,
    '-subj',
    '/O=rds-iam-canary/CN=rds-iam-canary sandbox CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return true;
}

async function issueServerCertificate(paths: StatePaths, names: string[]): Promise<void> {
  const csr = join(paths.tlsDir, 'server.csr');
  const ext = join(paths.tlsDir, 'server.ext');
  const san = names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  writeFileSync(
    ext,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${san}`,
      '',
    ].join('\n'),
  );

  try {
    await runCommand('openssl', [
      'req',
      '-new',
      ...KEY_ARGS,
      '-keyout',
      paths.serverKey,
      '-out',
      csr,
      '-subj',
      `/O=rds-iam-canary/CN=${names[0]}`,
    ]);
    await runCommand('openssl', [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      paths.caCert,
      '-CAkey',
      paths.caKey,
      '-set_serial',
      `0x${Date.now().toString(16)}`,
      '-days',
      SERVER_DAYS,
      '-extfile',
      ext,
      '-out',
      paths.serverCert,
    ]);
  } finally {
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
  }
}
