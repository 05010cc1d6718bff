import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * The canary's configuration file, as the user writes it (YAML or JSON). This one zod
 * definition validates files, generates config.schema.json for editors, and types the
 * loader. Every object is strict: an unknown key is refused, so a misspelt option never
 * passes silently. Defaults are merged into targets by `resolveTargets`
 * (shared/config/resolve-targets.ts), which also fills in what the file leaves out.
 */

/** Target names end up in metric dimensions, alert subjects and log lines: keep them plain. */
export const TARGET_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** How long one check may take, all phases together, when neither target nor defaults say. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** The probe query when none is given: cheap on every engine. */
export const DEFAULT_QUERY = 'SELECT 1';

/** Standard ports, used when neither the target nor `defaults` give one. */
export const DEFAULT_PORTS = { postgres: 5432, mysql: 3306 } as const;

const port = z
  .number({ error: 'expected a port number such as 5432' })
  .int({ error: 'expected a whole port number such as 5432' })
  .min(1, { error: 'a port is from 1 to 65535' })
  .max(65535, { error: 'a port is from 1 to 65535' });

const region = z
  .string()
  .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { error: 'expected an AWS region such as eu-west-1' });

const engine = z.enum(['postgres', 'mysql'], {
  error: 'expected postgres or mysql (use mysql for MariaDB and Aurora MySQL)',
});

/** A host name or IP address; never a URL, never with a port. */
const host = z
  .string({ error: 'expected a host name such as orders.c1a2b3.eu-west-1.rds.amazonaws.com' })
  .min(1, { error: 'the host is empty: give the endpoint host name' })
  .max(253, { error: 'a host name is at most 253 characters' })
  .superRefine((value, ctx) => {
    const problem = describeHostProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const accountId = z
  .string({ error: 'expected a 12-digit account id in quotes, e.g. "123456789012"' })
  .regex(/^\d{12}$/, { error: 'an AWS account id is 12 digits, quoted in YAML' });

const tags = z.record(
  z.string().regex(/^[\w.:/=+@ -]{1,128}$/, {
    error: 'tag keys are 1-128 letters, digits, spaces or _ . : / = + @ -',
  }),
  z.string({ error: 'tag values are strings: quote numbers and booleans' }).max(256),
);

/** TLS is always on and always verified; this only says against what. */
export const tlsSchema = z.strictObject({
  /**
   * `rds`: the Amazon RDS CA bundle (all regions, from a maintained package). Otherwise a
   * path to a PEM file, relative to the config file.
   */
  ca: z.string().min(1, { error: 'give "rds" or a path to a PEM file' }),
  /** Name to check the server certificate against (default: the target's host). */
  serverName: z.string().min(1).max(253).optional(),
});

/** One hop of a role chain: STS AssumeRole, from the previous hop's credentials. */
export const roleHopSchema = z.strictObject({
  arn: z.string().regex(/^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, {
    error: 'expected a role ARN such as arn:aws:iam::123456789012:role/rds-connect',
  }),
  /** Passed as ExternalId when the role's trust policy asks for one. */
  externalId: z
    .string()
    .regex(/^[\w+=,.@:/-]{2,1224}$/, { error: 'an ExternalId is 2-1224 of [A-Za-z0-9+=,.@:/_-]' })
    .optional(),
  /** RoleSessionName (default: derived from the target name); visible in CloudTrail. */
  sessionName: z
    .string()
    .regex(/^[\w+=,.@-]{2,64}$/, { error: 'a session name is 2-64 of [A-Za-z0-9+=,.@_-]' })
    .optional(),
  /** Session tags (needs sts:TagSession in the role's trust policy). */
  sessionTags: tags.optional(),
  /** Session length in seconds (default 3600; at most the role's MaxSessionDuration). */
  durationSeconds: z
    .number()
    .int()
    .min(900, { error: 'STS sessions last at least 900 seconds' })
    .max(43200, { error: 'STS sessions last at most 43200 seconds' })
    .optional(),
});

const timeoutMs = z
  .number()
  .int()
  .min(100, { error: 'timeoutMs is in milliseconds: at least 100' })
  .max(600_000, { error: 'timeoutMs is in milliseconds: at most 600000 (10 minutes)' });

const expect = z.enum(['connect', 'reject'], {
  error: 'expected connect (the login must work) or reject (a guard that must be refused)',
});

const query = z.string().min(1).max(4096);
const dbUser = z.string().min(1).max(63);
const database = z.string().min(1).max(63);

/**
 * The resource id of the instance (`db-...`), cluster (`cluster-...`) or proxy (`prx-...`):
 * what an `rds-db:connect` ARN must name. Optional; the deployment (serverless packaging)
 * needs it to grant `rds-db:connect` on exactly this database user.
 */
const resourceId = z.string().regex(/^(db|cluster|prx)-[A-Za-z0-9]{1,64}$/, {
  error: 'expected the resource id (DbiResourceId / DbClusterResourceId), e.g. db-ABCDEFGHIJKL',
});

/** Keys that `defaults` may set for every target. */
export const defaultsSchema = z.strictObject({
  engine: engine.optional(),
  port: port.optional(),
  user: dbUser.optional(),
  database: database.optional(),
  region: region.optional(),
  timeoutMs: timeoutMs.optional(),
  tls: tlsSchema.partial().optional(),
  roles: z.array(roleHopSchema).max(5).optional(),
  expect: expect.optional(),
  query: query.optional(),
  tags: tags.optional(),
  accountId: accountId.optional(),
});

export const targetSchema = z.strictObject({
  name: z
    .string({ error: 'every target needs a name' })
    .regex(TARGET_NAME_PATTERN, { error: 'a name is 1-64 letters, digits, ".", "_" or "-"' })
    .describe('Unique; the metric dimension `Target`, and the name in alerts and logs.'),
  engine: engine.optional().describe('postgres, or mysql (MySQL, MariaDB, Aurora MySQL).'),
  host: host.describe('Endpoint host name, without scheme or port.'),
  port: port.optional().describe('Default: defaults.port, else 5432 (postgres) / 3306 (mysql).'),
  database: database.optional().describe("Database to connect to (default: the driver's)."),
  user: dbUser.optional().describe('Database user granted IAM authentication.'),
  region: region
    .optional()
    .describe('Default: from the RDS host name, else defaults.region, else AWS_REGION.'),
  signingHost: host
    .optional()
    .describe('Sign the token for this host while connecting to `host` (tunnel, forward).'),
  signingPort: port.optional().describe('Sign the token for this port (default: `port`).'),
  roles: z
    .array(roleHopSchema)
    .max(5, { error: 'at most 5 roles in a chain' })
    .optional()
    .describe("Assumed in order, starting from the canary's own credentials."),
  expect: expect
    .optional()
    .describe('connect (default), or reject: a guard whose login must be refused.'),
  query: query.optional().describe('Run after login (default: SELECT 1).'),
  timeoutMs: timeoutMs.optional().describe('Budget for one check, all phases (default 10000).'),
  tls: tlsSchema
    .partial()
    .optional()
    .describe('ca: "rds" or a PEM path relative to this file; serverName: name to verify.'),
  tags: tags.optional().describe('Carried into alerts; `severity` sets the alert severity.'),
  resourceId: resourceId
    .optional()
    .describe('db-/cluster-/prx- resource id, for the least-privilege rds-db:connect ARN.'),
  accountId: accountId
    .optional()
    .describe("Account owning the database (for the rds-db:connect ARN); default the canary's."),
});

/** Round-wide settings; each has a default, so the whole block is optional. */
export const settingsSchema = z.strictObject({
  /** Targets checked at the same time. */
  concurrency: z.number().int().min(1).max(256).default(8),
  /**
   * New connections per second to any one endpoint (host:port). RDS throttles new
   * IAM-authenticated connections per instance; the canary must never cause that itself.
   */
  perEndpointConnectionsPerSecond: z.number().positive().max(1000).default(10),
  /** Upper bound for one round in the CLI (`check`, `watch`); the Lambda uses its deadline. */
  roundTimeoutMs: z.number().int().min(1000).max(3_600_000).default(300_000),
});

/**
 * Read only by the deployment (serverless packaging, scripts/deploy/): the canary accepts
 * the block so that one file serves both.
 */
export const deploySchema = z.strictObject({
  /** CloudFormation stacks whose CREATE_COMPLETE / UPDATE_COMPLETE triggers a smoke run. */
  smokeOnStacks: z
    .array(
      z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, {
        error: 'a stack name is a letter then letters, digits or "-", 128 at most',
      }),
    )
    .max(50, { error: 'at most 50 stacks' })
    .optional(),
});

export const configFileSchema = z
  .strictObject(
    {
      $schema: z.string().optional(),
      defaults: defaultsSchema.optional(),
      settings: settingsSchema.optional(),
      deploy: deploySchema.optional(),
      targets: z
        .array(targetSchema, { error: 'expected a list of targets under `targets:`' })
        .min(1, { error: 'add at least one target' })
        .max(1000, { error: 'at most 1000 targets in one config' }),
    },
    { error: 'the file must be a mapping with a `targets:` list' },
  )
  .superRefine((config, ctx) => {
    const first = new Map<string, number>();
    for (const [i, target] of config.targets.entries()) {
      const seen = first.get(target.name);
      if (seen === undefined) {
        first.set(target.name, i);
        continue;
      }
      ctx.addIssue({
        code: 'custom',
        path: ['targets', i, 'name'],
        message: `"${target.name}" is already the name of targets[${seen}]: names must be unique`,
      });
    }
  });

export type ConfigFile = z.infer<typeof configFileSchema>;
export type ConfigDefaults = z.infer<typeof defaultsSchema>;
export type ConfigTarget = z.infer<typeof targetSchema>;
export type RoundSettings = z.output<typeof settingsSchema>;

/** Why a host value is not a bare host name (scheme, port, path, spaces), or undefined. */
function describeHostProblem(value: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    return 'remove the scheme: give the bare host name, e.g. orders.c1a2b3.eu-west-1.rds.amazonaws.com';
  }
  if (isIP(value) === 6) return undefined;
  if (value.includes(':')) return 'remove the port from the host: put it in `port`';
  if (value.includes('/')) return 'remove the path: give the bare host name';
  if (
    !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$/.test(
      value,
    )
  ) {
    return 'expected a host name (letters, digits, "-" and dots) or an IP address';
  }
  return undefined;
}
