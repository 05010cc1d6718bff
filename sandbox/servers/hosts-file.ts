import { readFileSync, writeFileSync } from 'node:fs';

const HOSTS = '/etc/hosts';
const BEGIN = '# BEGIN rds-iam-canary-sandbox';
const END = '# END rds-iam-canary-sandbox';

/** The text of a hosts file with the sandbox's block removed. */
export function stripHostsBlock(text: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(BEGIN);
  const end = lines.indexOf(END, start);
  if (start === -1 || end === -1) return text;
  return [...lines.slice(0, start), ...lines.slice(end + 1)].join('\n');
}

/** The text of a hosts file with exactly one sandbox block mapping `hosts` to 127.0.0.1. */
export function withHostsBlock(text: string, hosts: string[]): string {
  const base = stripHostsBlock(text);
  const block = [BEGIN, ...hosts.map((h) => `127.0.0.1 ${h}`), END, ''].join('\n');
  return `${base}${base === '' || base.endsWith('\n') ? '' : '\n'}${block}`;
}

/**
 * Points every instance host name at loopback. The file is rewritten in place (same inode),
 * never replaced, because /etc/hosts is often a bind mount. Returns true when it changed.
 */
export function writeHostsBlock(hosts: string[], file = HOSTS): boolean {
  const text = readFileSync(file, 'utf8');
  const next = withHostsBlock(text, hosts);
  if (next === text) return false;
  writeFileSync(file, next);
  return true;
}

/** Removes the sandbox's block; returns true when there was one. */
export function removeHostsBlock(file = HOSTS): boolean {
  const text = readFileSync(file, 'utf8');
  const next = stripHostsBlock(text);
  if (next === text) return false;
  writeFileSync(file, next);
  return true;
}
