/**
 * `npm run bench`: runs every bench/*.bench.ts (or those named on the command line) against
 * the sandbox and writes BENCHMARKS.md with today's date and this machine's facts.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

// Sections not run this time (a filtered `npm run bench check`) keep their earlier text and date.
const file = new URL('../BENCHMARKS.md', import.meta.url);
const kept = new Map<string, string>();
if (existsSync(file)) {
  for (const part of readFileSync(file, 'utf8').split(/^## /m).slice(1)) {
    kept.set(part.slice(0, part.indexOf('\n')).trim(), `## ${part.trimEnd()}\n`);
  }
}
for (const s of sections) {
  const out = [`## ${s.title}`, '', `Measured ${date} on ${machine}.`, '', s.description, ''];
  out.push(`| ${s.columns.join(' | ')} |`, `| ${s.columns.map(() => '---').join(' | ')} |`);
  for (const row of s.rows) out.push(`| ${row.join(' | ')} |`);
  out.push('');
  for (const n of s.notes) out.push(`- ${n}`);
  kept.set(s.title, `${out.join('\n')}\n`);
}

const header = [
  '# Benchmarks',
  '',
  'Written by `npm run bench` (or `npm run bench <name>` for one bench/*.bench.ts). Every',
  'comparison inside a table was measured side by side in the same run; each section says',
  'when and where.',
  '',
].join('\n');
const text = `${header}\n${[...kept.values()].join('\n')}`;
writeFileSync(file, text);
process.stdout.write(text);
