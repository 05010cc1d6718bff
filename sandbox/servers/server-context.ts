import type { StatePaths } from './state-paths.ts';

/** What every server module gets from `sandbox up`. */
export interface ServerContext {
  paths: StatePaths;
  masterKey: string;
  /** True when the server certificate was reissued in this run: servers reload it. */
  certificateChanged: boolean;
  log: (line: string) => void;
  /** Records a process this run started, so a later failure can stop it again. */
  onStarted: (name: string, stop: () => Promise<void>) => void;
}

/** One line of `sandbox status`. */
export interface ServerStatus {
  name: string;
  engine: 'postgres' | 'mysql' | 'daemon';
  port: number | undefined;
  pid: number | undefined;
  up: boolean;
}
