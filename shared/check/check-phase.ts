/**
 * The phases of one check, in order. Every error a phase raises on purpose carries its phase,
 * so that the classifier can tell a DNS failure of the database from one of STS.
 */
export type CheckPhase = 'credentials' | 'assume-role' | 'token' | 'connect' | 'query' | 'check';

/**
 * How far a database connection got before it failed: `none` (no TCP yet), `tcp` (TCP
 * established, TLS not complete), `tls` (TLS verified, login not complete), `authenticated`.
 */
export type ConnectionProgress = 'none' | 'tcp' | 'tls' | 'authenticated';
