import { isIP } from 'node:net';
import { en } from 'zod/locales';
import * as z from 'zod/mini';

/**
 * The canary's configuration file, as the user writes it (YAML or JSON). This one zod
 * definition validates files, generates config.schema.json for editors, and types the
 * loader. Every object is strict: an unknown key is refused, so a misspelt option never
 * passes silently. Defaults are merged into targets by `resolveTargets`
 * (shared/config/resolve-targets.ts), which also fills in what the file leaves out.
 *
 * Written with `zod/mini` (functions rather than methods, so that a bundle carries only what
 * is used: the Lambda bundles, issue 4). Same validation, messages and JSON Schema as zod's
 * classic API; zod/mini loads no messages by itself, so the English ones are set here (the
 * loader keeps zod's own wording where the schema gives none).
 */
z.config(en());

/** A copy of `schema` with a description (JSON Schema `description`), as zod's `.describe`. */
function describe<T extends z.ZodMiniType>(schema: T, description: string): T {
  const copy = schema.clone();
  z.globalRegistry.add(copy, { description });
  return copy;
}

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
  .check(
    z.int({ error: 'expected a whole port number such as 5432' }),
    z.gte(1, { error: 'a port is from 1 to 65535' }),
    z.lte(65535, { error: 'a port is from 1 to 65535' }),
  );

const region = z
  .string()
  .check(
    z.regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { error: 'expected an AWS region such as eu-west-1' }),
  );

const engine = z.enum(['postgres', 'mysql'], {
  error: 'expected postgres or mysql (use mysql for MariaDB and Aurora MySQL)',
});

/** A host name or IP address; never a URL, never with a port. */
const host = z
  .string({ error: 'expected a host name such as orders.c1a2b3.eu-west-1.rds.amazonaws.com' })
  .check(
    z.minLength(1, { error: 'the host is empty: give the endpoint host name' }),
    z.maxLength(253, { error: 'a host name is at most 253 characters' }),
    z.superRefine((value: string, ctx) => {
      const problem = describeHostProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  );

const accountId = z
  .string({ error: 'expected a 12-digit account id in quotes, e.g. "123456789012"' })
  .check(z.regex(/^\d{12}$/, { error: 'an AWS account id is 12 digits, quoted in YAML' }));

const tags = z.record(
  z.string().check(
    z.regex(/^[\w.:/=+@ -]{1,128}$/, {
      error: 'tag keys are 1-128 letters, digits, spaces or _ . : / = + @ -',
    }),
  ),
  z
    .string({ error: 'tag values are strings: quote numbers and booleans' })
    .check(z.maxLength(256, { error: 'a tag value is at most 256 characters' })),
);

/** TLS is always on and always verified; this only says against what. */
export const tlsSchema = z.strictObject({
  /**
   * `rds`: the Amazon RDS CA bundle (all regions, from a maintained package). Otherwise a
   * path to a PEM file, relative to the config file.
   */
  ca: z.string().check(z.minLength(1, { error: 'give "rds" or a path to a PEM file' })),
  /** Name to check the server certificate against (default: the target's host). */
  serverName: z.optional(
    z
      .string()
      .check(
        z.minLength(1, { error: 'serverName is empty: give a host name or remove the key' }),
        z.maxLength(253, { error: 'a host name is at most 253 characters' }),
      ),
  ),
});

/** One hop of a role chain: STS AssumeRole, from the previous hop's credentials. */
export const roleHopSchema = z.strictObject({
  arn: z.string().check(
    z.regex(/^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, {
      error: 'expected a role ARN such as arn:aws:iam::123456789012:role/rds-connect',
    }),
  ),
  /** Passed as ExternalId when the role's trust policy asks for one. */
  externalId: z.optional(
    z.string().check(
      z.regex(/^[\w+=,.@:/-]{2,1224}$/, {
        error: 'an ExternalId is 2-1224 of [A-Za-z0-9+=,.@:/_-]',
      }),
    ),
  ),
  /** RoleSessionName (default: derived from the target name); visible in CloudTrail. */
  sessionName: z.optional(
    z
      .string()
      .check(
        z.regex(/^[\w+=,.@-]{2,64}$/, { error: 'a session name is 2-64 of [A-Za-z0-9+=,.@_-]' }),
      ),
  ),
  /** Session tags (needs sts:TagSession in the role's trust policy). */
  sessionTags: z.optional(tags),
  /** Session length in seconds (default 3600; at most the role's MaxSessionDuration). */
  durationSeconds: z.optional(
    z
      .number()
      .check(
        z.int({ error: 'durationSeconds is a whole number of seconds, e.g. 900' }),
        z.gte(900, { error: 'STS sessions last at least 900 seconds' }),
        z.lte(43200, { error: 'STS sessions last at most 43200 seconds' }),
      ),
  ),
});

const timeoutMs = z
  .number()
  .check(
    z.int({ error: 'timeoutMs is a whole number of milliseconds, e.g. 10000' }),
    z.gte(100, { error: 'timeoutMs is in milliseconds: at least 100' }),
    z.lte(600_000, { error: 'timeoutMs is in milliseconds: at most 600000 (10 minutes)' }),
  );

const expect = z.enum(['connect', 'reject'], {
  error: 'expected connect (the login must work) or reject (a guard that must be refused)',
});

/**
 * C0 and C1 control characters and DEL. Names and queries are printed by `validate`,
 * `diagnose` and in alerts: an ESC sequence in them could repaint a terminal and fake output.
 */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** The same, but tab and newline are allowed: a query may be written over several lines. */
const QUERY_CONTROL_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

function refuse(pattern: RegExp, message: string) {
  return z.refine<string>((value) => !pattern.test(value), { error: message });
}

const query = z
  .string({ error: 'expected the probe query as a string, e.g. SELECT 1' })
  .check(
    z.minLength(1, { error: 'the query is empty: give one (e.g. SELECT 1) or remove the key' }),
    z.maxLength(4096, { error: 'a probe query is at most 4096 characters: use a short one' }),
    refuse(
      QUERY_CONTROL_CHARACTERS,
      'the query contains control characters: only tab and newline are allowed, remove the others',
    ),
  );
const dbUser = z
  .string({ error: 'expected the database user name as a string, e.g. canary_iam' })
  .check(
    z.minLength(1, { error: 'the user is empty: give the database user granted IAM login' }),
    z.maxLength(63, { error: 'a database user name is at most 63 characters' }),
    refuse(CONTROL_CHARACTERS, 'the user contains control characters: remove them'),
  );
const database = z
  .string({ error: 'expected the database name as a string, e.g. orders' })
  .check(
    z.minLength(1, { error: "the database is empty: name one or remove the key (the driver's)" }),
    z.maxLength(63, { error: 'a database name is at most 63 characters' }),
    refuse(CONTROL_CHARACTERS, 'the database contains control characters: remove them'),
  );

/**
 * The resource id of the instance (`db-...`), cluster (`cluster-...`) or proxy (`prx-...`):
 * what an `rds-db:connect` ARN must name. Optional; the deployment (serverless packaging)
 * needs it to grant `rds-db:connect` on exactly this database user.
 */
const resourceId = z.string().check(
  z.regex(/^(db|cluster|prx)-[A-Za-z0-9]{1,64}$/, {
    error: 'expected the resource id (DbiResourceId / DbClusterResourceId), e.g. db-ABCDEFGHIJKL',
  }),
);

/** Keys that `defaults` may set for every target. */
export const defaultsSchema = z.strictObject({
  engine: z.optional(engine),
  port: z.optional(port),
  user: z.optional(dbUser),
  database: z.optional(database),
  region: z.optional(region),
  timeoutMs: z.optional(timeoutMs),
  tls: z.optional(z.partial(tlsSchema)),
  roles: z.optional(
    z.array(roleHopSchema).check(z.maxLength(5, { error: 'at most 5 roles in a chain' })),
  ),
  expect: z.optional(expect),
  query: z.optional(query),
  tags: z.optional(tags),
  accountId: z.optional(accountId),
});

export const targetSchema = z.strictObject({
  name: describe(
    z
      .string({ error: 'every target needs a name' })
      .check(
        z.regex(TARGET_NAME_PATTERN, { error: 'a name is 1-64 letters, digits, ".", "_" or "-"' }),
      ),
    'Unique; the metric dimension `Target`, and the name in alerts and logs.',
  ),
  engine: describe(z.optional(engine), 'postgres, or mysql (MySQL, MariaDB, Aurora MySQL).'),
  host: describe(host, 'Endpoint host name, without scheme or port.'),
  port: describe(z.optional(port), 'Default: defaults.port, else 5432 (postgres) / 3306 (mysql).'),
  database: describe(z.optional(database), "Database to connect to (default: the driver's)."),
  user: describe(z.optional(dbUser), 'Database user granted IAM authentication.'),
  region: describe(
    z.optional(region),
    'Default: from the RDS host name, else defaults.region, else AWS_REGION.',
  ),
  signingHost: describe(
    z.optional(host),
    'Sign the token for this host while connecting to `host` (tunnel, forward).',
  ),
  signingPort: describe(z.optional(port), 'Sign the token for this port (default: `port`).'),
  roles: describe(
    z.optional(
      z.array(roleHopSchema).check(z.maxLength(5, { error: 'at most 5 roles in a chain' })),
    ),
    "Assumed in order, starting from the canary's own credentials.",
  ),
  expect: describe(
    z.optional(expect),
    'connect (default), or reject: a guard whose login must be refused.',
  ),
  query: describe(z.optional(query), 'Run after login (default: SELECT 1).'),
  timeoutMs: describe(z.optional(timeoutMs), 'Budget for one check, all phases (default 10000).'),
  tls: describe(
    z.optional(z.partial(tlsSchema)),
    'ca: "rds" or a PEM path relative to this file; serverName: name to verify.',
  ),
  tags: describe(z.optional(tags), 'Carried into alerts; `severity` sets the alert severity.'),
  resourceId: describe(
    z.optional(resourceId),
    'db-/cluster-/prx- resource id, for the least-privilege rds-db:connect ARN.',
  ),
  accountId: describe(
    z.optional(accountId),
    "Account owning the database (for the rds-db:connect ARN); default the canary's.",
  ),
});

/** Round-wide settings; each has a default, so the whole block is optional. */
export const settingsSchema = z.strictObject({
  /** Targets checked at the same time. */
  concurrency: z._default(
    z
      .number()
      .check(
        z.int({ error: 'concurrency is a whole number of targets, from 1 to 256' }),
        z.gte(1, { error: 'concurrency is from 1 to 256' }),
        z.lte(256, { error: 'concurrency is from 1 to 256' }),
      ),
    8,
  ),
  /**
   * New connections per second to any one endpoint (host:port). RDS throttles new
   * IAM-authenticated connections per instance; the canary must never cause that itself.
   */
  perEndpointConnectionsPerSecond: z._default(
    z
      .number()
      .check(
        z.positive({ error: 'perEndpointConnectionsPerSecond is above 0, e.g. 10' }),
        z.lte(1000, { error: 'perEndpointConnectionsPerSecond is at most 1000' }),
      ),
    10,
  ),
  /** Upper bound for one round in the CLI (`check`, `watch`); the Lambda uses its deadline. */
  roundTimeoutMs: z._default(
    z
      .number()
      .check(
        z.int({ error: 'roundTimeoutMs is a whole number of milliseconds, e.g. 300000' }),
        z.gte(1000, { error: 'roundTimeoutMs is in milliseconds: at least 1000' }),
        z.lte(3_600_000, { error: 'roundTimeoutMs is in milliseconds: at most 3600000 (1 hour)' }),
      ),
    300_000,
  ),
});

/**
 * Read only by the deployment (serverless packaging, scripts/deploy/): the canary accepts
 * the block so that one file serves both.
 */
export const deploySchema = z.strictObject({
  /** CloudFormation stacks whose CREATE_COMPLETE / UPDATE_COMPLETE triggers a smoke run. */
  smokeOnStacks: z.optional(
    z
      .array(
        z.string().check(
          z.regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, {
            error: 'a stack name is a letter then letters, digits or "-", 128 at most',
          }),
        ),
      )
      .check(z.maxLength(50, { error: 'at most 50 stacks' })),
  ),
});

export const configFileSchema = z
  .strictObject(
    {
      $schema: z.optional(z.string()),
      defaults: z.optional(defaultsSchema),
      settings: z.optional(settingsSchema),
      deploy: z.optional(deploySchema),
      targets: z
        .array(targetSchema, { error: 'expected a list of targets under `targets:`' })
        .check(
          z.minLength(1, { error: 'add at least one target' }),
          z.maxLength(1000, { error: 'at most 1000 targets in one config' }),
        ),
    },
    { error: 'the file must be a mapping with a `targets:` list' },
  )
  .check(
    z.superRefine((config: { targets: { name: string }[] }, ctx) => {
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
    }),
  );

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
