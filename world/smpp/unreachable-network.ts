import { createServer } from 'node:net';
import { Observed } from '../observed';

/**
 * A network that is down, as the platform meets it: the connection is closed the moment it is
 * made. Each attempt is recorded, so "still waiting" can be checked after later attempts.
 */
export async function unreachableNetworkAt(
  port: number,
): Promise<{ attempts: Observed<number>; close: () => Promise<void> }> {
  const attempts = new Observed<number>((at) => `connection attempt at ${new Date(at).toISOString()}`);
  const server = createServer((socket) => {
    attempts.add(Date.now());
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { attempts, close };
}
