import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  accountOfArn,
  assumedRoleArn,
  type Principal,
  type RoleSessionPrincipal,
  type SessionTag,
} from './principal.ts';
import { sha256Hex } from './sigv4.ts';

/**
 * Every secret the sandbox hands out is derived from the master key, so nothing is kept:
 * a daemon restart loses no credentials (see sandbox/DESIGN.md, "Credentials").
 *
 * - IAM users: `AKIA` + 16 base32 chars of HMAC(master, "user:" + arn); the secret is
 *   base64 HMAC(master, "secret:" + key id), 40 chars.
 * - Temporary credentials: `ASIA` + 16 random base32 chars; the session token is base64 of
 *   a MAC'd JSON description of the session, padded so that it is 1.5 KB or more as AWS's
 *   are; the secret is HMAC(master, "secret:" + key id + SHA-256 of the session token).
 */

export interface AccessKeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface TemporaryCredentials extends AccessKeyPair {
  sessionToken: string;
  expiration: Date;
}

/** What a key id (and session token) stands for. */
export interface ResolvedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  principal: Principal;
  /** Undefined for long-term keys of IAM users. */
  expiration?: Date;
  temporary: boolean;
}

/** What a session is issued for: a role session, or a user's own temporary keys. */
export type SessionSpec =
  | Omit<RoleSessionPrincipal, 'arn' | 'account'>
  | { kind: 'user'; userArn: string };

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

// AWS session tokens for role sessions are about 1 to 1.3 KB of base64 and grow with
// tags; the sandbox's are at least 1.5 KB so the whole-token path to the verifier is tested.
const SESSION_TOKEN_MIN_BYTES = 1200;
const MAC_BYTES = 32;
const TOKEN_VERSION = 1;

function masterKeyBytes(masterKeyHex: string): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(masterKeyHex)) {
    throw new Error('the master key must be 64 hex characters');
  }
  return Buffer.from(masterKeyHex, 'hex');
}

function hmac(key: Buffer, text: string | Buffer): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

function toBase32(bytes: Buffer, length: number): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= 0xff;
  }
  return out;
}

function deriveSecret(master: Buffer, material: string): string {
  return hmac(master, `secret:${material}`).toString('base64').slice(0, 40);
}

/** The long-term access key of a fixture IAM user. */
export function deriveUserKeys(masterKeyHex: string, userArn: string): AccessKeyPair {
  const master = masterKeyBytes(masterKeyHex);
  const accessKeyId = `AKIA${toBase32(hmac(master, `user:${userArn}`), 16)}`;
  return { accessKeyId, secretAccessKey: deriveSecret(master, accessKeyId) };
}

/** A stable unique id as IAM shows them (`AROA...` for roles, `AIDA...` for users). */
export function deriveUniqueId(masterKeyHex: string, arn: string): string {
  const prefix = arn.includes(':role/') ? 'AROA' : 'AIDA';
  return `${prefix}${toBase32(hmac(masterKeyBytes(masterKeyHex), `id:${arn}`), 17)}`;
}

interface SessionPayload {
  v: number;
  keyId: string;
  kind: 'user' | 'role-session';
  arn: string;
  roleArn?: string;
  account: string;
  sessionName?: string;
  tags?: SessionTag[];
  transitiveTagKeys?: string[];
  sourcePrincipal?: string;
  /** Epoch seconds. */
  expiration: number;
}

/**
 * Issues and resolves credentials. `userArns` are the fixture's IAM users, whose key ids
 * are derived once here so that a key id can be mapped back to its user.
 */
export class CredentialAuthority {
  readonly #master: Buffer;
  readonly #masterHex: string;
  #users = new Map<string, { arn: string; secretAccessKey: string }>();

  constructor(masterKeyHex: string, userArns: string[]) {
    this.#master = masterKeyBytes(masterKeyHex);
    this.#masterHex = masterKeyHex;
    this.setUsers(userArns);
  }

  /** Replaces the known IAM users (the fixture's). */
  setUsers(userArns: string[]): void {
    this.#users = new Map();
    for (const arn of userArns) {
      const keys = deriveUserKeys(this.#masterHex, arn);
      this.#users.set(keys.accessKeyId, { arn, secretAccessKey: keys.secretAccessKey });
    }
  }

  userKeys(userArn: string): AccessKeyPair {
    return deriveUserKeys(this.#masterHex, userArn);
  }

  uniqueId(arn: string): string {
    return deriveUniqueId(this.#masterHex, arn);
  }

  /** Mints temporary credentials for a session that ends at `expiration`. */
  issue(spec: SessionSpec, expiration: Date): TemporaryCredentials {
    const keyId = `ASIA${toBase32(randomBytes(10), 16)}`;
    const payload: SessionPayload =
      spec.kind === 'user'
        ? {
            v: TOKEN_VERSION,
            keyId,
            kind: 'user',
            arn: spec.userArn,
            account: accountOfArn(spec.userArn),
            expiration: Math.floor(expiration.getTime() / 1000),
          }
        : {
            v: TOKEN_VERSION,
            keyId,
            kind: 'role-session',
            arn: assumedRoleArn(spec.policyArn, spec.sessionName),
            roleArn: spec.policyArn,
            account: accountOfArn(spec.policyArn),
            sessionName: spec.sessionName,
            tags: spec.tags,
            transitiveTagKeys: spec.transitiveTagKeys,
            sourcePrincipal: spec.sourcePrincipal,
            expiration: Math.floor(expiration.getTime() / 1000),
          };

    const sessionToken = this.#sealPayload(payload);
    return {
      accessKeyId: keyId,
      secretAccessKey: deriveSecret(this.#master, keyId + sha256Hex(sessionToken)),
      sessionToken,
      expiration: new Date(payload.expiration * 1000),
    };
  }

  /**
   * Maps a key id (and, for temporary keys, the session token sent with it) to its
   * principal, secret and expiry. Undefined when the key is unknown, the token is missing
   * or forged, or the token belongs to another key: AWS answers all of these alike.
   */
  resolve(accessKeyId: string, sessionToken?: string): ResolvedCredentials | undefined {
    if (accessKeyId.startsWith('AKIA')) {
      const user = this.#users.get(accessKeyId);
      if (!user || sessionToken) return undefined;
      return {
        accessKeyId,
        secretAccessKey: user.secretAccessKey,
        principal: {
          kind: 'user',
          arn: user.arn,
          account: accountOfArn(user.arn),
          policyArn: user.arn,
        },
        temporary: false,
      };
    }

    if (!accessKeyId.startsWith('ASIA') || !sessionToken) return undefined;
    const payload = this.#openPayload(sessionToken);
    if (!payload || payload.keyId !== accessKeyId) return undefined;

    return {
      accessKeyId,
      secretAccessKey: deriveSecret(this.#master, accessKeyId + sha256Hex(sessionToken)),
      principal: principalOfPayload(payload),
      expiration: new Date(payload.expiration * 1000),
      temporary: true,
    };
  }

  // Layout: [version 1][payload length 2][payload JSON][random padding][HMAC 32], base64.
  #sealPayload(payload: SessionPayload): string {
    const json = Buffer.from(JSON.stringify(payload));
    const header = Buffer.from([TOKEN_VERSION, json.length >> 8, json.length & 0xff]);
    const padLength = Math.max(
      16,
      SESSION_TOKEN_MIN_BYTES - header.length - json.length - MAC_BYTES,
    );
    const body = Buffer.concat([header, json, randomBytes(padLength)]);
    const mac = hmac(this.#master, Buffer.concat([Buffer.from('session-token:'), body]));
    return Buffer.concat([body, mac]).toString('base64');
  }

  #openPayload(sessionToken: string): SessionPayload | undefined {
    const raw = Buffer.from(sessionToken, 'base64');
    if (raw.length < 3 + MAC_BYTES || raw[0] !== TOKEN_VERSION) return undefined;

    const body = raw.subarray(0, raw.length - MAC_BYTES);
    const mac = raw.subarray(raw.length - MAC_BYTES);
    const expected = hmac(this.#master, Buffer.concat([Buffer.from('session-token:'), body]));
    if (!timingSafeEqual(mac, expected)) return undefined;

    const length = (raw[1]! << 8) | raw[2]!;
    try {
      return JSON.parse(body.subarray(3, 3 + length).toString('utf8')) as SessionPayload;
    } catch {
      return undefined;
    }
  }
}

function principalOfPayload(payload: SessionPayload): Principal {
  if (payload.kind === 'user') {
    return { kind: 'user', arn: payload.arn, account: payload.account, policyArn: payload.arn };
  }
  return {
    kind: 'role-session',
    arn: payload.arn,
    account: payload.account,
    policyArn: payload.roleArn ?? '',
    sessionName: payload.sessionName ?? '',
    tags: payload.tags ?? [],
    transitiveTagKeys: payload.transitiveTagKeys ?? [],
    sourcePrincipal: payload.sourcePrincipal ?? '',
  };
}
