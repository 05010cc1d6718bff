import { describe, expect, it } from 'vitest';
import { stripHostsBlock, withHostsBlock } from '#sandbox/servers/hosts-file.ts';

const hosts = ['a.eu-west-1.rds.amazonaws.com', 'b.us-east-1.rds.amazonaws.com'];

describe('hosts file block', () => {
  it('appends one block mapping every host to loopback', () => {
    const text = withHostsBlock('127.0.0.1 localhost\n', hosts);

    expect(text).toBe(
      [
        '127.0.0.1 localhost',
        '# BEGIN rds-iam-canary-sandbox',
        '127.0.0.1 a.eu-west-1.rds.amazonaws.com',
        '127.0.0.1 b.us-east-1.rds.amazonaws.com',
        '# END rds-iam-canary-sandbox',
        '',
      ].join('\n'),
    );
  });

  it('starts the block on its own line when the file lacks a final newline', () => {
    const text = withHostsBlock('127.0.0.1 vm', hosts);

    expect(text.split('\n').slice(0, 2)).toEqual([
      '127.0.0.1 vm',
      '# BEGIN rds-iam-canary-sandbox',
    ]);
  });

  it('replaces an existing block instead of adding a second one', () => {
    const once = withHostsBlock('127.0.0.1 localhost\n', hosts);

    const twice = withHostsBlock(once, ['c.rds.amazonaws.com']);

    expect(twice.match(/# BEGIN/g)).toHaveLength(1);
    expect(twice).toContain('127.0.0.1 c.rds.amazonaws.com');
    expect(twice).not.toContain('a.eu-west-1');
  });

  it('gives the original text back when the block is removed', () => {
    const original = '127.0.0.1 localhost\n::1 localhost\n';

    expect(stripHostsBlock(withHostsBlock(original, hosts))).toBe(original);
  });

  it('leaves a file without a block unchanged', () => {
    expect(stripHostsBlock('127.0.0.1 localhost\n')).toBe('127.0.0.1 localhost\n');
  });
});
