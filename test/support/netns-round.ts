/**
 * Runs one round inside a network namespace (see createDroppingNamespace in reliability.ts):
 * reads `{ targets, deadlineMs? }` as JSON on stdin, starts a TLS-refusing PostgreSQL stand-in
 * on 127.0.0.1 for targets whose port is 0, and prints `{ report, handles }` as JSON, where
 * `handles` is the count of open sockets and timers left once the round is over.
 *
 * Credentials: CANARY_TEST_KEY_ID / CANARY_TEST_SECRET from the environment (never printed).
 */
import { runRound } from '#shared/check/run-round.ts';
import { RoleSessionCache } from '#shared/credentials/assume-role-chain.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';
import { postgresWithoutTls } from './network-faults.ts';
import { openHandleCount } from './reliability.ts';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
  targets: ResolvedTarget[];
  deadlineMs?: number;
};

const server = await postgresWithoutTls();
const targets = input.targets.map((t) =>
  t.port === 0 ? { ...t, port: server.port, signingPort: server.port } : t,
);
const before = openHandleCount();

const report = await runRound(targets, {
  sessionCache: new RoleSessionCache({ identify: async () => 'arn:aws:iam::111111111111:user/x' }),
  credentials: async () => ({
    accessKeyId: process.env.CANARY_TEST_KEY_ID ?? '',
    secretAccessKey: process.env.CANARY_TEST_SECRET ?? '',
  }),
  ...(input.deadlineMs === undefined ? {} : { deadlineMs: input.deadlineMs }),
});

await server.close();
// Sockets destroyed by the round finish closing on the next turns of the event loop.
for (let i = 0; i < 50 && openHandleCount() > before - 1; i++) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
process.stdout.write(
  `${JSON.stringify({ report, handlesBefore: before, handlesAfter: openHandleCount() })}\n`,
);
