import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { UserInputError } from '#shared/errors.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';
import { inferRegionFromHost } from './infer-region.ts';
import {
  type ConfigDefaults,
  type ConfigFile,
  type ConfigTarget,
  DEFAULT_PORTS,
  DEFAULT_QUERY,
  DEFAULT_TIMEOUT_MS,
} from './schema.ts';

export interface ResolveOptions {
  /** Directory that relative `tls.ca` paths are resolved against (the config file's). */
  baseDir: string;
  /** Environment for the last-resort region (AWS_REGION). */
  env: Record<string, string | undefined>;
  /** Check that every `tls.ca` file exists (default true). */
  checkFiles?: boolean;
}

/**
 * Merges `defaults` into every target and fills in what is left out: port from the engine,
 * region from the RDS host name (else defaults, else AWS_REGION), signing endpoint from the
 * connection endpoint, the CA path made absolute. Throws UserInputError naming the field.
 */
export function resolveTargets(config: ConfigFile, options: ResolveOptions): ResolvedTarget[] {
  const defaults = config.defaults ?? {};
  return config.targets.map((target, i) => resolveTarget(target, defaults, i, options));
}

function resolveTarget(
  target: ConfigTarget,
  defaults: ConfigDefaults,
  index: number,
  options: ResolveOptions,
): ResolvedTarget {
  const at = `targets[${index}]`;
  const engine = target.engine ?? defaults.engine;
  if (!engine) {
    throw new UserInputError(`${at}.engine`, 'missing: set engine: postgres or mysql');
  }
  const user = target.user ?? defaults.user;
  if (!user) {
    throw new UserInputError(`${at}.user`, 'missing: set the database user the canary logs in as');
  }

  const port = target.port ?? defaults.port ?? DEFAULT_PORTS[engine];
  const signingHost = target.signingHost ?? target.host;
  const region =
    target.region ??
    inferRegionFromHost(signingHost) ??
    inferRegionFromHost(target.host) ??
    defaults.region ??
    options.env.AWS_REGION;
  if (!region) {
    throw new UserInputError(
      `${at}.region`,
      'cannot tell the region from the host name: set region here, in defaults, or AWS_REGION',
    );
  }

  const tlsPath = target.tls?.ca !== undefined ? `${at}.tls.ca` : 'defaults.tls.ca';
  const ca = resolveCa(target.tls?.ca ?? defaults.tls?.ca ?? 'rds', tlsPath, options);
  const serverName = target.tls?.serverName ?? defaults.tls?.serverName;
  const database = target.database ?? defaults.database;
  const accountId = target.accountId ?? defaults.accountId;

  return {
    name: target.name,
    engine,
    host: target.host,
    port,
    ...(database === undefined ? {} : { database }),
    user,
    region,
    signingHost,
    signingPort: target.signingPort ?? port,
    roles: target.roles ?? defaults.roles ?? [],
    expect: target.expect ?? defaults.expect ?? 'connect',
    query: target.query ?? defaults.query ?? DEFAULT_QUERY,
    timeoutMs: target.timeoutMs ?? defaults.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    tls: serverName === undefined ? { ca } : { ca, serverName },
    tags: { ...defaults.tags, ...target.tags },
    ...(target.resourceId === undefined ? {} : { resourceId: target.resourceId }),
    ...(accountId === undefined ? {} : { accountId }),
  };
}

/** 'rds' stays as is; a PEM path becomes absolute, relative to the config file's folder. */
function resolveCa(ca: string, path: string, options: ResolveOptions): string {
  if (ca === 'rds') return ca;

  const absolute = isAbsolute(ca) ? ca : resolve(options.baseDir, ca);
  if (options.checkFiles !== false && !existsSync(absolute)) {
    throw new UserInputError(
      path,
      `no file at ${absolute}: give "rds" or a PEM path relative to the config file`,
    );
  }
  return absolute;
}
