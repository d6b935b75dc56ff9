/**
 * One SMSC node as its own process, for tests that kill it for real (SIGKILL): the SMSC role on
 * a shared store file with the cluster bus, as a cluster node runs it. Prints "ready" once it
 * serves; logs go to stderr. Argument: JSON {dbFile, port}.
 */
import { ClusterBus } from '../../platform/cluster/cluster-bus';
import { startSmsc } from '../../platform/smsc';
import { openStore } from '../../platform/store/store';
import { testConfig } from './harness';

async function main(): Promise<void> {
  const { dbFile, port } = JSON.parse(process.argv[2] ?? '{}') as { dbFile: string; port: number };
  const config = testConfig(dbFile);
  config.smsc.port = port;
  // Longer than the carrier's slow answers: the submit is still in flight when the node is killed.
  config.smsc.responseTimeoutMs = 2_000;
  const db = openStore(dbFile);
  const log = (role: string, message: string): void => {
    process.stderr.write(`[${process.pid} ${role}] ${message}\n`);
  };
  const bus = new ClusterBus(db, { pollMs: 20, log: (m) => log('bus', m) });
  await startSmsc({ config, db, bus, log });
  bus.start('smsc');
  process.stdout.write('ready\n');
}

main().catch((error: unknown) => {
  process.stderr.write(
    `smsc node failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
