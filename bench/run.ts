/**
 * `npm run bench`: runs every bench/*.bench.ts (or those named on the command line) against
 * the sandbox and writes BENCHMARKS.md with today's date and this machine's facts.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { basename } from 'node:path';
import type { BenchSection } from './bench-section.ts';

const only = process.argv.slice(2);
const dir = new URL('.', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const sections: BenchSection[] = [];
for (const file of files) {
  process.stderr.write(`bench: ${basename(file)}\n`);
  const mod = (await import(new URL(file, dir).href)) as { default: () => Promise<BenchSection> };
  sections.push(await mod.default());
}

const date = new Date().toISOString().slice(0, 10);
const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const out = [
  '# Benchmarks',
  '',
  `Measured ${date} on ${machine} with \`npm run bench\`. Every comparison in a table was`,
  'measured side by side in the same run.',
  '',
];
for (const s of sections) {
  out.push(`## ${s.title}`, '', s.description, '');
  out.push(`| ${s.columns.join(' | ')} |`, `| ${s.columns.map(() => '---').join(' | ')} |`);
  for (const row of s.rows) out.push(`| ${row.join(' | ')} |`);
  out.push('');
  for (const n of s.notes) out.push(`- ${n}`);
  out.push('');
}
writeFileSync(new URL('../BENCHMARKS.md', import.meta.url), out.join('\n'));
process.stdout.write(out.join('\n'));
