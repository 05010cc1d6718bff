import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Fixture, FixtureError, loadFixture } from '#sandbox/fixture-schema.ts';
import { canaryAccessKeys } from './canary-keys.ts';
import { ensureDaemon } from './daemon-process.ts';
import { ensurePackages } from './debian-packages.ts';
import { buildSandboxEnv, type SandboxEnv, writeSandboxEnv } from './env-file.ts';
import { removeHostsBlock, writeHostsBlock } from './hosts-file.ts';
import { ensureMariadb } from './mariadb-server.ts';
import { ensureMasterKey } from './master-key.ts';
import { deriveAdminPassword, ensureOwnedDir } from './owned-files.ts';
import { buildPamModule, writePamServices } from './pam-module.ts';
import { ensurePostgres } from './postgres-server.ts';
import { requireBinaries, requireFreePorts, requireRoot } from './preflight.ts';
import { stopOrphanServers } from './sandbox-down.ts';
import { SandboxError } from './sandbox-error.ts';
import type { ServerContext } from './server-context.ts';
import { findProjectRoot, type StatePaths } from './state-paths.ts';
import { ensureCertificates } from './tls-certificates.ts';

export interface UpOptions {
  paths: StatePaths;
  /** The fixture to apply; left out: sandbox/fixture.default.yaml. */
  fixturePath?: string;
  log: (line: string) => void;
}

/**
 * `sandbox up`: makes the machine match the fixture and returns the environment to use.
 * Every step checks before it acts, so a second run with everything up changes nothing.
 * On failure, whatever this run started or wrote outside STATE is undone.
 */
export async function sandboxUp(options: UpOptions): Promise<SandboxEnv> {
  const { paths, log } = options;
  const projectRoot = findProjectRoot();
  requireRoot();
  const fixturePath = options.fixturePath ?? join(projectRoot, 'sandbox', 'fixture.default.yaml');
  const fixture = readFixture(fixturePath);

  const installed = await ensurePackages(log);
  if (installed.length > 0) log(`installed ${installed.join(', ')}`);
  const pgBinDir = requireBinaries(fixture);
  await requireFreePorts(fixture, paths);

  const undo: { name: string; run: () => Promise<void> }[] = [];
  try {
    return await applyFixture(fixture, fixturePath, pgBinDir, projectRoot, paths, log, undo);
  } catch (error) {
    for (const step of undo.reverse()) {
      await step.run().catch(() => log(`could not undo: ${step.name}`));
    }
    throw error;
  }
}

function readFixture(path: string): Fixture {
  if (!existsSync(path)) {
    throw new SandboxError(
      'SANDBOX_FIXTURE_MISSING',
      `fixture ${path} does not exist`,
      'give an existing file to --fixture',
    );
  }
  try {
    return loadFixture(path);
  } catch (error) {
    if (!(error instanceof FixtureError)) throw error;
    throw new SandboxError(
      'SANDBOX_FIXTURE_INVALID',
      `fixture ${error.message.split('\n')[0]!.trim()}`,
      'fix the fixture file, or give --fixture another',
      {
        cause: error,
      },
    );
  }
}

async function applyFixture(
  fixture: Fixture,
  fixturePath: string,
  pgBinDir: string,
  projectRoot: string,
  paths: StatePaths,
  log: (line: string) => void,
  undo: { name: string; run: () => Promise<void> }[],
): Promise<SandboxEnv> {
  ensureOwnedDir(paths.root, 'root', 0o755);
  mkdirSync(paths.logDir, { recursive: true, mode: 0o755 });
  mkdirSync(paths.runDir, { recursive: true, mode: 0o755 });
  const masterKey = ensureMasterKey(paths.masterKey);

  const fixtureText = readFileSync(fixturePath, 'utf8');
  const fixtureChanged =
    !existsSync(paths.fixture) || readFileSync(paths.fixture, 'utf8') !== fixtureText;
  if (fixtureChanged) {
    const previous = existsSync(paths.fixture) ? readFileSync(paths.fixture, 'utf8') : undefined;
    writeFileSync(paths.fixture, fixtureText, { mode: 0o644 });
    undo.push({
      name: 'restore the previous fixture copy',
      run: async () => {
        if (previous === undefined) rmSync(paths.fixture, { force: true });
        else writeFileSync(paths.fixture, previous);
      },
    });
  }

  const hosts = fixture.instances.map((i) => i.host);
  const certificateChanged = await ensureCertificates(paths, hosts);
  if (certificateChanged) log(`tls: server certificate issued for ${hosts.length} hosts`);

  const source = join(projectRoot, 'sandbox', 'pam', 'pam_rds_iam_canary.c');
  if (await buildPamModule(source, paths)) log(`pam: built ${paths.pamModule}`);
  for (const file of writePamServices(fixture.instances, paths)) {
    log(`pam: wrote ${file}`);
    undo.push({ name: `remove ${file}`, run: async () => rmSync(file, { force: true }) });
  }
  const hadHostsBlock = readFileSync('/etc/hosts', 'utf8').includes(
    '# BEGIN rds-iam-canary-sandbox',
  );
  if (writeHostsBlock(hosts)) {
    log(`hosts: ${hosts.length} names point at 127.0.0.1`);
    if (!hadHostsBlock)
      undo.push({ name: 'remove the hosts block', run: async () => void removeHostsBlock() });
  }

  const ctx: ServerContext = {
    paths,
    masterKey,
    certificateChanged,
    log,
    onStarted: (name, stop) => undo.push({ name: `stop ${name}`, run: stop }),
  };
  await ensureDaemon(projectRoot, fixture.aws.port, fixtureChanged, ctx);
  // Instances are independent: bring them up side by side (initdb alone takes seconds), and
  // let every one settle before a failure is reported, so the undo list is complete.
  const results = await Promise.allSettled(
    fixture.instances.map((instance) =>
      instance.engine === 'postgres'
        ? ensurePostgres(instance, pgBinDir, ctx)
        : ensureMariadb(instance, ctx),
    ),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  for (const name of await stopOrphanServers(paths, fixture))
    log(`${name}: stopped (not in the fixture)`);

  const env = buildSandboxEnv(fixture, paths, canaryAccessKeys(fixture, masterKey), (name) =>
    deriveAdminPassword(masterKey, name),
  );
  writeSandboxEnv(paths, env);
  writeCanaryConfig(projectRoot, paths);
  return env;
}

/** STATE/canary.yaml: the canary's config for the sandbox, when the project ships one. */
function writeCanaryConfig(projectRoot: string, paths: StatePaths): void {
  const source = join(projectRoot, 'sandbox', 'canary.sandbox.yaml');
  if (existsSync(source)) copyFileSync(source, paths.canaryConfig);
}
