import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * An append-only JSON Lines file (the decision log, the AWS call log). Lines are written
 * synchronously so that a test reading the log right after an answer finds the line.
 */
export class JsonlLog<T extends { time: string }> {
  readonly path: string;
  #fd: number | undefined;

  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    this.#fd = openSync(path, 'a', 0o644);
  }

  append(record: T): void {
    if (this.#fd === undefined) return;
    writeSync(this.#fd, `${JSON.stringify(record)}\n`);
  }

  /** Records with `time` at or after `since` (ISO or epoch ms), oldest first. */
  read(since?: string, filter?: (record: T) => boolean): T[] {
    if (!existsSync(this.path)) return [];
    const sinceMs = parseSince(since);
    const records: T[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line) continue;
      let record: T;
      try {
        record = JSON.parse(line) as T;
      } catch {
        continue;
      }
      if (sinceMs !== undefined && Date.parse(record.time) < sinceMs) continue;
      if (filter && !filter(record)) continue;
      records.push(record);
    }
    return records;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

function parseSince(since: string | undefined): number | undefined {
  if (!since) return undefined;
  if (/^\d+$/.test(since)) return Number(since);
  const ms = Date.parse(since);
  return Number.isNaN(ms) ? undefined : ms;
}
