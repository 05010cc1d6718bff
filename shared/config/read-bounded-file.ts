import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { CanaryError } from '#shared/errors.ts';

/** Why a file could not be read within its bound: `code` says which, for the caller's message. */
export class BoundedReadError extends CanaryError {}

/**
 * Reads a small text file: a regular file only (not a directory, FIFO, device such as
 * /dev/zero, or socket), and at most `maxBytes`. It opens without blocking (a FIFO with no
 * writer would wait forever), checks the opened file itself (no race with a rename), and
 * reads in a loop with a bounded buffer, so a file that lies about its size (/proc, a file
 * still growing) never costs more than `maxBytes + 1` bytes of memory.
 *
 * Throws BoundedReadError with code `NOT_REGULAR_FILE` or `FILE_TOO_BIG`; an open or read
 * error (ENOENT, EACCES, ...) is thrown as it comes, with its Node `code`.
 *
 * @example const text = readBoundedTextFile('canary.yaml', 1024 * 1024);
 */
export function readBoundedTextFile(path: string, maxBytes: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new BoundedReadError('NOT_REGULAR_FILE', `not a regular file (${fileKind(stat)})`);
    }

    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > maxBytes) {
      throw new BoundedReadError('FILE_TOO_BIG', `more than the ${maxBytes} bytes allowed`);
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

function fileKind(stat: import('node:fs').Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a file';
}
