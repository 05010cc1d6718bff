import { parse } from 'yaml';
import { z } from 'zod';
import { BoundedReadError, readBoundedTextFile } from '#shared/config/read-bounded-file.ts';

/**
 * The sandbox's world: accounts, IAM principals and their policies, an organization deny
 * list, and the database instances with their users. `sandbox up` applies it; the daemon
 * (token verifier and local AWS endpoints) decides every request from it.
 */

const accountId = z.string().regex(/^\d{12}$/, 'an AWS account id is 12 digits, quoted in YAML');

const stringOrList = z.union([z.string(), z.array(z.string()).min(1)]);

/** A condition block as IAM writes it: { StringEquals: { 'sts:ExternalId': 'abc' } }. */
const condition = z.record(z.string(), z.record(z.string(), stringOrList));

/** One IAM policy statement, the subset the sandbox evaluates. */
export const statementSchema = z
  .object({
    Sid: z.string().optional(),
    Effect: z.enum(['Allow', 'Deny']),
    Action: stringOrList,
    Resource: stringOrList.optional(),
    Principal: z.union([z.literal('*'), z.object({ AWS: stringOrList }).strict()]).optional(),
    Condition: condition.optional(),
  })
  .strict();

const statements = z.array(statementSchema);

const iamUser = z
  .object({
    arn: z.string().regex(/^arn:aws:iam::\d{12}:user\/[\w+=,.@-]+$/),
    /** Policies attached to the user (identity-based). */
    policies: statements.default([]),
    boundary: statements.optional(),
  })
  .strict();

const role = z
  .object({
    arn: z.string().regex(/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/),
    /** The trust policy: who may call sts:AssumeRole / sts:TagSession on this role. */
    trust: statements,
    policies: statements.default([]),
    /** Permissions boundary: when present, an action must be allowed here too. */
    boundary: statements.optional(),
    /** The role's MaxSessionDuration: DurationSeconds above it is refused. */
    maxSessionDuration: z.number().int().min(3600).max(43200).default(3600),
  })
  .strict();

const dbUser = z
  .object({
    name: z.string().min(1).max(63),
    /** true: authenticated only by IAM tokens (rds_iam / PAM). false: a password user. */
    iam: z.boolean(),
    password: z.string().optional(),
  })
  .strict();

const instance = z
  .object({
    /** Short name, used for files, the PAM service and the resource id's default. */
    name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
    engine: z.enum(['postgres', 'mysql']),
    /** RDS-shaped endpoint host name; resolves to loopback while the sandbox is up. */
    host: z.string(),
    port: z.number().int().min(1024).max(65535),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/),
    account: accountId,
    /** The DbiResourceId / DbClusterResourceId that rds-db:connect ARNs must name. */
    resourceId: z.string().regex(/^(db|cluster|prx)-[A-Z0-9]+$/),
    /** Name of the cluster or instance (what people wrongly put in the ARN, case F5). */
    identifier: z.string(),
    iamAuth: z.boolean().default(true),
    /** New IAM-authenticated connections allowed per second (RDS throttles these). */
    maxIamConnectionsPerSecond: z.number().int().positive().optional(),
    databases: z.array(z.string()).default([]),
    users: z.array(dbUser).default([]),
  })
  .strict();

export const fixtureSchema = z
  .object({
    accounts: z.record(accountId, z.object({ name: z.string() }).strict()),
    /** Deny statements applied to every principal in every account, as an SCP would. */
    organization: z
      .object({ deny: statements.default([]) })
      .strict()
      .default({ deny: [] }),
    users: z.array(iamUser).default([]),
    roles: z.array(role).default([]),
    instances: z.array(instance).min(1),
    /** The local AWS endpoint (STS, CloudWatch, SNS, ...): one HTTP server on loopback. */
    aws: z
      .object({ port: z.number().int().min(1024).max(65535).default(14566) })
      .strict()
      .default({ port: 14566 }),
  })
  .strict();

export type Fixture = z.infer<typeof fixtureSchema>;
export type FixtureInstance = Fixture['instances'][number];
export type FixtureRole = Fixture['roles'][number];
export type FixtureUser = Fixture['users'][number];
export type PolicyStatement = z.infer<typeof statementSchema>;

/** A fixture is a page of YAML; anything bigger is the wrong file (or /dev/zero). */
const MAX_FIXTURE_BYTES = 1024 * 1024;

export class FixtureError extends Error {
  override name = 'FixtureError';
  readonly code = 'FIXTURE_INVALID';
}

/** Parses and validates a fixture; throws FixtureError naming the path and the problem. */
export function parseFixture(text: string, source = 'fixture'): Fixture {
  let raw: unknown;
  try {
    raw = parse(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new FixtureError(`${source}: not valid YAML: ${(error as Error).message}`);
  }

  const result = fixtureSchema.safeParse(raw);
  if (!result.success) {
    // A misspelt key also leaves the right one missing: name the typo, not the gap.
    const issues = result.error.issues;
    const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!;
    const where = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`));
    const message =
      issue.code === 'unrecognized_keys' && issue.path.length === 0
        ? describeUnknownKey(issue.keys[0]!, raw)
        : issue.message;
    throw new FixtureError(
      `${source}: ${where.join('').replace(/^\./, '') || '(root)'}: ${message}`,
    );
  }

  checkConsistency(result.data, source);
  return result.data;
}

export function loadFixture(path: string): Fixture {
  let text: string;
  try {
    text = readBoundedTextFile(path, MAX_FIXTURE_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const what = error instanceof BoundedReadError ? error.message : `cannot read it (${code})`;
    throw new FixtureError(`${path}: ${what}`, { cause: error });
  }
  return parseFixture(text, path);
}

/** `unknown key "acounts" (did you mean accounts?)`, for a top-level key. */
function describeUnknownKey(key: string, raw: unknown): string {
  const shown = JSON.stringify(key).replace(/[^\x20-\x7e]/g, '?');
  const known = Object.keys(fixtureSchema.shape).filter(
    (k) => !(raw && typeof raw === 'object' && k in raw),
  );
  const near = known.find((k) => isNearMiss(key.toLowerCase(), k.toLowerCase()));
  return near ? `unknown key ${shown} (did you mean ${near}?)` : `unknown key ${shown} (remove it)`;
}

/** True when `a` and `b` differ by at most two single-character edits. */
function isNearMiss(a: string, b: string): boolean {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]! <= 2;
}

function checkConsistency(fixture: Fixture, source: string): void {
  const seen = new Set<string>();
  for (const [i, inst] of fixture.instances.entries()) {
    for (const key of [`name:${inst.name}`, `port:${inst.port}`, `host:${inst.host}`]) {
      if (seen.has(key)) {
        throw new FixtureError(`${source}: instances[${i}]: duplicate ${key.replace(':', ' ')}`);
      }
      seen.add(key);
    }
    if (!(inst.account in fixture.accounts)) {
      throw new FixtureError(
        `${source}: instances[${i}].account: ${inst.account} is not listed under accounts`,
      );
    }
  }
  if (seen.has(`port:${fixture.aws.port}`)) {
    throw new FixtureError(`${source}: aws.port: ${fixture.aws.port} is also an instance port`);
  }
}
