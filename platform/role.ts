import type { PlatformConfig } from './config';
import type { Bus } from './bus';
import type { Db } from './store/store';

/** What every role receives when the platform starts it. */
export interface RoleDeps {
  config: PlatformConfig;
  db: Db;
  bus: Bus;
  log: (role: string, message: string) => void;
}

/** A started role: its endpoints and a clean stop. */
export interface RunningRole<E> {
  endpoints: E;
  stop(): Promise<void>;
}
