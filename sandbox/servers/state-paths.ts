import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `sandbox up` keeps everything it owns (see sandbox/DESIGN.md, "State directory"). */
export const STATE_DIR = '/var/lib/rds-iam-canary-sandbox';

/** The paths inside one state directory, named once so no module spells them twice. */
export interface StatePaths {
  root: string;
  fixture: string;
  masterKey: string;
  tlsDir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  libDir: string;
  pamModule: string;
  runDir: string;
  verifierSocket: string;
  daemonPid: string;
  logDir: string;
  daemonLog: string;
  envFile: string;
  canaryConfig: string;
  pgDir: (instance: string) => string;
  mysqlDir: (instance: string) => string;
}

export function statePaths(root = STATE_DIR): StatePaths {
  return {
    root,
    fixture: join(root, 'fixture.yaml'),
    masterKey: join(root, 'secrets', 'master.key'),
    tlsDir: join(root, 'tls'),
    caCert: join(root, 'tls', 'ca.pem'),
    caKey: join(root, 'tls', 'ca.key'),
    serverCert: join(root, 'tls', 'server.pem'),
    serverKey: join(root, 'tls', 'server.key'),
    libDir: join(root, 'lib'),
    pamModule: join(root, 'lib', 'pam_rds_iam_canary.so'),
    runDir: join(root, 'run'),
    verifierSocket: join(root, 'run', 'verifier.sock'),
    daemonPid: join(root, 'run', 'daemon.pid'),
    logDir: join(root, 'log'),
    daemonLog: join(root, 'log', 'daemon.log'),
    envFile: join(root, 'env.json'),
    canaryConfig: join(root, 'canary.yaml'),
    pgDir: (instance) => join(root, 'pg', instance),
    mysqlDir: (instance) => join(root, 'mysql', instance),
  };
}

/**
 * The project's root directory (the one holding package.json), found from this file's place
 * so that both `tsx sandbox/cli.ts` and the bundle in dist/ find the sources they need.
 */
export function findProjectRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readFileSync(manifest, 'utf8').includes('"rds-iam-canary"')) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no rds-iam-canary package.json above ${from}`);
    dir = parent;
  }
}
