import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '#shared/config/config-error.ts';
import { inferRegionFromHost } from '#shared/config/infer-region.ts';
import { loadConfig, MAX_CONFIG_BYTES, parseConfig } from '#shared/config/load-config.ts';
import { readBoundedTextFile } from '#shared/config/read-bounded-file.ts';
import { selectTargets } from '#shared/config/select-targets.ts';

const HOST = 'orders.c1a2b3.eu-west-1.rds.amazonaws.com';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'canary-config-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function parse(text: string, env: Record<string, string> = {}) {
  return parseConfig(text, { file: join(dir, 'canary.yaml'), env });
}

/** The ConfigError that parsing `text` throws. */
function parseError(text: string, env: Record<string, string> = {}): ConfigError {
  try {
    parse(text, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const minimal = `
targets:
  - name: orders
    engine: postgres
    host: ${HOST}
    user: canary_iam
`;

describe('parseConfig', () => {
  it('applies defaults to a minimal target', () => {
    const config = parse(minimal);

    expect(config.targets).toEqual([
      {
        name: 'orders',
        engine: 'postgres',
        host: HOST,
        port: 5432,
        user: 'canary_iam',
        region: 'eu-west-1',
        signingHost: HOST,
        signingPort: 5432,
        roles: [],
        expect: 'connect',
        query: 'SELECT 1',
        timeoutMs: 10_000,
        tls: { ca: 'rds' },
        tags: {},
      },
    ]);
    expect(config.settings).toEqual({
      concurrency: 8,
      perEndpointConnectionsPerSecond: 10,
      roundTimeoutMs: 300_000,
    });
  });

  it('merges defaults into every target, the target winning', () => {
    const config = parse(`
defaults:
  engine: mysql
  user: canary_iam
  port: 3307
  timeoutMs: 3000
  tags: { owner: platform, severity: page }
  roles: [{ arn: "arn:aws:iam::111111111111:role/hub" }]
targets:
  - { name: a, host: a.example.com, region: eu-west-2 }
  - { name: b, host: b.example.com, region: eu-west-2, port: 3306, tags: { severity: ticket }, roles: [] }
`);

    const [a, b] = config.targets;
    expect(a).toMatchObject({ engine: 'mysql', port: 3307, timeoutMs: 3000 });
    expect(a?.roles).toHaveLength(1);
    expect(a?.tags).toEqual({ owner: 'platform', severity: 'page' });
    expect(b).toMatchObject({ port: 3306, signingPort: 3306, roles: [] });
    expect(b?.tags).toEqual({ owner: 'platform', severity: 'ticket' });
  });

  it('uses the engine port when neither target nor defaults give one', () => {
    const config = parse(`
targets:
  - { name: m, engine: mysql, host: ${HOST}, user: u }
`);

    expect(config.targets[0]?.port).toBe(3306);
  });

  it('reads JSON, which is YAML', () => {
    const config = parse(
      JSON.stringify({ targets: [{ name: 'j', engine: 'postgres', host: HOST, user: 'u' }] }),
    );

    expect(config.targets[0]?.name).toBe('j');
  });

  it('accepts a deploy block for the packaging step', () => {
    const config = parse(`${minimal}deploy:\n  smokeOnStacks: [orders-db]\n`);

    expect(config.targets).toHaveLength(1);
  });
});

describe('refusals', () => {
  it('refuses an unknown key in a target, suggesting the near one', () => {
    const error = parseError(`${minimal}    prot: 5432\n`);

    expect(error.code).toBe('INVALID_INPUT');
    expect(error.path).toBe('targets[0].prot');
    expect(error.message).toContain('"port"');
  });

  it('refuses an unknown top-level key and lists the known ones', () => {
    const error = parseError(`${minimal}extras: true\n`);

    expect(error.path).toBe('extras');
    expect(error.message).toContain('targets');
  });

  it('refuses unknown keys in nested blocks', () => {
    expect(parseError(`${minimal}    tls: { ca: rds, verify: false }\n`).path).toBe(
      'targets[0].tls.verify',
    );
    expect(parseError(`settings: { concurency: 4 }\n${minimal}`).path).toBe('settings.concurency');
    expect(
      parseError(
        `${minimal}    roles: [{ arn: "arn:aws:iam::111111111111:role/r", externalID: x }]\n`,
      ).path,
    ).toBe('targets[0].roles[0].externalID');
  });

  it('refuses a wrong type with the path of the field', () => {
    const error = parseError(
      minimal.replace('user: canary_iam', 'user: canary_iam\n    port: abc'),
    );

    expect(error.path).toBe('targets[0].port');
    expect(error.message).toContain('"abc"');
  });

  it('names a missing required field', () => {
    const error = parseError('targets:\n  - { name: a, engine: postgres, user: u }\n');

    expect(error.path).toBe('targets[0].host');
    expect(error.message).toMatch(/^targets\[0\]\.host: missing/);
  });

  it('names a user missing from both target and defaults', () => {
    const error = parseError(`targets:\n  - { name: a, engine: postgres, host: ${HOST} }\n`);

    expect(error.path).toBe('targets[0].user');
  });

  it('refuses duplicate target names at the second one', () => {
    const error = parseError(`
targets:
  - { name: a, engine: postgres, host: ${HOST}, user: u }
  - { name: b, engine: postgres, host: ${HOST}, user: u }
  - { name: a, engine: postgres, host: ${HOST}, user: u }
`);

    expect(error.path).toBe('targets[2].name');
    expect(error.message).toContain('targets[0]');
  });

  it.each([['has space'], ['slash/name'], ['x'.repeat(65)], ['']])(
    'refuses the target name %j',
    (name) => {
      const error = parseError(
        `targets:\n  - { name: ${JSON.stringify(name)}, engine: postgres, host: ${HOST}, user: u }\n`,
      );

      expect(error.path).toBe('targets[0].name');
    },
  );

  it.each([
    ['postgres://orders.example.com', 'scheme'],
    ['orders.example.com:5432', 'port'],
    ['orders.example.com/db', 'path'],
    ['bad host', 'host name'],
  ])('refuses the host %s', (host, word) => {
    const error = parseError(
      `targets:\n  - { name: a, engine: postgres, host: "${host}", user: u }\n`,
    );

    expect(error.path).toBe('targets[0].host');
    expect(error.message).toContain(word);
  });

  it('accepts IP addresses as hosts', () => {
    const config = parse(`
defaults: { region: eu-west-1, engine: postgres, user: u }
targets:
  - { name: v4, host: 127.0.0.1 }
  - { name: v6, host: "::1" }
`);

    expect(config.targets.map((t) => t.host)).toEqual(['127.0.0.1', '::1']);
  });

  it('refuses an unknown engine and expect value', () => {
    expect(parseError(minimal.replace('postgres', 'oracle')).path).toBe('targets[0].engine');
    expect(parseError(`${minimal}    expect: maybe\n`).path).toBe('targets[0].expect');
  });

  it('refuses an account id written as a number', () => {
    const error = parseError(`${minimal}    accountId: 111111111111\n`);

    expect(error.path).toBe('targets[0].accountId');
  });

  it('refuses an empty target list and a file that is not a mapping', () => {
    expect(parseError('targets: []\n').path).toBe('targets');
    expect(parseError('- a\n- b\n').path).toBe('(root)');
  });

  it('refuses an empty file', () => {
    expect(parseError('').code).toBe('INVALID_INPUT');
  });

  it('gives the line of a YAML syntax error', () => {
    const error = parseError('targets:\n  - name: a\n   engine: [postgres\n');

    expect(error.path).toMatch(/^line \d+, column \d+$/);
  });

  it('refuses duplicate keys', () => {
    const error = parseError(`${minimal}    user: other\n`);

    expect(error.path).toMatch(/^line \d+/);
  });

  it('refuses a YAML alias bomb', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) {
      const p = String.fromCharCode(97 + i);
      const n = String.fromCharCode(98 + i);
      lines.push(
        `${n}: &${n} [*${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}, *${p}]`,
      );
    }

    const error = parseError(`${lines.join('\n')}\n${minimal}`);

    expect(error.message).toContain('aliases');
  });

  it('keeps every message on one line', () => {
    const texts = [
      `${minimal}    prot: 1\n`,
      'targets:\n  - name: a\n   engine: [postgres\n',
      `targets:\n  - { name: a, engine: postgres, host: "x:1", user: u }\n`,
    ];

    for (const text of texts) expect(parseError(text).message).not.toContain('\n');
  });
});

describe('region', () => {
  it.each([
    ['orders.c1a2b3.eu-west-1.rds.amazonaws.com', 'eu-west-1'],
    ['orders.cluster-c1a2b3.us-east-2.rds.amazonaws.com', 'us-east-2'],
    ['orders.cluster-ro-c1a2b3.ap-southeast-1.rds.amazonaws.com', 'ap-southeast-1'],
    ['orders.cluster-custom-c1a2b3.eu-central-1.rds.amazonaws.com', 'eu-central-1'],
    ['orders-proxy.proxy-c1a2b3.us-west-2.rds.amazonaws.com', 'us-west-2'],
    ['reader.endpoint.proxy-c1a2b3.us-west-2.rds.amazonaws.com', 'us-west-2'],
    ['orders.c1a2b3.cn-north-1.rds.amazonaws.com.cn', 'cn-north-1'],
    ['ORDERS.C1A2B3.EU-WEST-1.RDS.AMAZONAWS.COM.', 'eu-west-1'],
  ])('reads the region from %s', (host, region) => {
    expect(inferRegionFromHost(host)).toBe(region);
  });

  it.each([
    ['db.internal.example.com'],
    ['localhost'],
    ['rds.amazonaws.com'],
    ['eu-west-1.rds.amazonaws.com'],
  ])('finds no region in %s', (host) => {
    expect(inferRegionFromHost(host)).toBeUndefined();
  });

  it('prefers the target region, then the host, then defaults, then AWS_REGION', () => {
    const text = (target: string, defaults = '') => `
${defaults}
targets:
  - { name: a, engine: postgres, user: u, ${target} }
`;
    const env = { AWS_REGION: 'ap-south-1' };

    expect(parse(text(`host: ${HOST}, region: us-east-1`), env).targets[0]?.region).toBe(
      'us-east-1',
    );
    expect(
      parse(text(`host: ${HOST}`, 'defaults: { region: us-west-1 }'), env).targets[0]?.region,
    ).toBe('eu-west-1');
    expect(
      parse(text('host: db.example.com', 'defaults: { region: us-west-1 }'), env).targets[0]
        ?.region,
    ).toBe('us-west-1');
    expect(parse(text('host: db.example.com'), env).targets[0]?.region).toBe('ap-south-1');
  });

  it('reads the region from signingHost when connecting through a tunnel', () => {
    const config = parse(`
targets:
  - { name: t, engine: postgres, user: u, host: localhost, port: 6432, signingHost: ${HOST}, signingPort: 5432 }
`);

    expect(config.targets[0]).toMatchObject({
      host: 'localhost',
      port: 6432,
      signingHost: HOST,
      signingPort: 5432,
      region: 'eu-west-1',
    });
  });

  it('asks for a region when nothing gives one', () => {
    const error = parseError(
      'targets:\n  - { name: a, engine: postgres, user: u, host: db.example.com }\n',
    );

    expect(error.path).toBe('targets[0].region');
  });
});

describe('tls.ca', () => {
  it('keeps "rds" as is', () => {
    expect(parse(minimal).targets[0]?.tls).toEqual({ ca: 'rds' });
  });

  it('resolves a path relative to the config file', () => {
    mkdirSync(join(dir, 'certs'));
    writeFileSync(join(dir, 'certs', 'ca.pem'), 'pem');

    const config = parse(
      `${minimal}    tls: { ca: ./certs/ca.pem, serverName: orders.internal }\n`,
    );

    expect(config.targets[0]?.tls).toEqual({
      ca: join(dir, 'certs', 'ca.pem'),
      serverName: 'orders.internal',
    });
  });

  it('resolves a defaults path and lets a target override only serverName', () => {
    writeFileSync(join(dir, 'ca.pem'), 'pem');

    const config = parse(
      `defaults: { tls: { ca: ca.pem } }\n${minimal}    tls: { serverName: x.internal }\n`,
    );

    expect(config.targets[0]?.tls).toEqual({ ca: join(dir, 'ca.pem'), serverName: 'x.internal' });
  });

  it('names the field of a CA file that does not exist', () => {
    expect(parseError(`${minimal}    tls: { ca: ./missing.pem }\n`).path).toBe('targets[0].tls.ca');
    expect(parseError(`defaults: { tls: { ca: ./missing.pem } }\n${minimal}`).path).toBe(
      'defaults.tls.ca',
    );
  });
});

describe('loadConfig', () => {
  it('loads a file and records its absolute path', () => {
    const file = join(dir, 'canary.yaml');
    writeFileSync(file, minimal);

    const config = loadConfig(file, {});

    expect(config.path).toBe(file);
    expect(config.targets).toHaveLength(1);
  });

  it('names a missing file', () => {
    const file = join(dir, 'nope.yaml');

    expect(() => loadConfig(file, {})).toThrowError(
      expect.objectContaining({ code: 'INVALID_INPUT', file }),
    );
  });

  it('refuses a file over the size cap without parsing it', () => {
    const file = join(dir, 'big.yaml');
    writeFileSync(file, `${minimal}#${'x'.repeat(MAX_CONFIG_BYTES)}\n`);

    expect(() => loadConfig(file, {})).toThrowError(expect.objectContaining({ file }));
  });
});

describe('loadConfig on what is not a regular file', () => {
  it('refuses /dev/zero without reading it', () => {
    expect(() => loadConfig('/dev/zero', {})).toThrowError(
      expect.objectContaining({
        code: 'INVALID_INPUT',
        cause: expect.objectContaining({ code: 'NOT_REGULAR_FILE' }),
      }),
    );
  });

  it('refuses a FIFO without waiting for a writer', () => {
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);

    expect(() => loadConfig(fifo, {})).toThrowError(
      expect.objectContaining({ cause: expect.objectContaining({ code: 'NOT_REGULAR_FILE' }) }),
    );
  });

  it('refuses a directory', () => {
    expect(() => loadConfig(dir, {})).toThrowError(
      expect.objectContaining({ cause: expect.objectContaining({ code: 'NOT_REGULAR_FILE' }) }),
    );
  });
});

describe('readBoundedTextFile', () => {
  it('reads a file of exactly the cap and refuses one byte more', () => {
    const file = join(dir, 'edge.txt');
    writeFileSync(file, 'x'.repeat(16));

    expect(readBoundedTextFile(file, 16)).toHaveLength(16);
    expect(() => readBoundedTextFile(file, 15)).toThrowError(
      expect.objectContaining({ code: 'FILE_TOO_BIG' }),
    );
  });
});

describe('control characters', () => {
  const target = (extra: string) => `
targets:
  - name: a
    engine: postgres
    host: ${HOST}
    user: canary_iam
${extra}
`;

  it.each([
    ['user', '    user: "can\\e[2Jary"', 'targets[0].user'],
    ['user (C1 CSI)', '    user: "can\\u009bary"', 'targets[0].user'],
    ['user (DEL)', '    user: "can\\x7fary"', 'targets[0].user'],
    ['database', '    database: "db\\rx"', 'targets[0].database'],
    ['query (carriage return)', '    query: "SELECT\\r1"', 'targets[0].query'],
    ['query (ESC)', '    query: "SELECT 1 \\e[31m"', 'targets[0].query'],
  ])('refuses them in %s', (_, line, path) => {
    const text = target(line).replace(/\n {4}user: canary_iam\n( {4}user: )/, '\n$1');

    const error = parseError(text);

    expect(error.path).toBe(path);
    expect(error.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it('allows tab and newline in a query', () => {
    const config = parse(target('    query: "SELECT\\n\\t1"'));

    expect(config.targets[0]!.query).toBe('SELECT\n\t1');
  });
});

describe('messages with a fix', () => {
  it.each([
    ['an empty database', '    database: ""', 'targets[0].database'],
    ['a bad tag key', '    tags: { "bad key!": x }', 'targets[0].tags["bad key!"]'],
    ['an infinite number', '    timeoutMs: .inf', 'targets[0].timeoutMs'],
    ['tls turned off', '    tls: false', 'targets[0].tls'],
    ['an empty serverName', '    tls: { serverName: "" }', 'targets[0].tls.serverName'],
  ])('explains %s', (_, line, path) => {
    const error = parseError(`${minimal}${line}\n`);

    expect(error.path).toBe(path);
    expect(error.message).not.toMatch(/Too small|Invalid key|expected number, got number/);
  });

  it('explains an infinite round setting', () => {
    const error = parseError(`settings: { concurrency: .inf }\n${minimal}`);

    expect(error.path).toBe('settings.concurrency');
    expect(error.message).toContain('finite');
  });
});

describe('selectTargets', () => {
  it('keeps config order and refuses unknown names', () => {
    const config = parse(`
defaults: { engine: postgres, user: u, region: eu-west-1 }
targets:
  - { name: a, host: a.example.com }
  - { name: b, host: b.example.com }
`);

    expect(selectTargets(config.targets, ['b', 'a']).map((t) => t.name)).toEqual(['a', 'b']);
    expect(selectTargets(config.targets, []).map((t) => t.name)).toEqual(['a', 'b']);
    expect(() => selectTargets(config.targets, ['c'], '--target')).toThrowError(
      expect.objectContaining({ code: 'INVALID_INPUT', path: '--target' }),
    );
  });
});
