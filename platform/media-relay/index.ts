/**
 * The media-relay role (RTPEngine's place): allocates a pair of UDP ports per call and relays
 * RTP between caller and callee with latching and per-direction counters.
 */
import dgram, { type Socket } from 'node:dgram';
import type { RoleDeps, RunningRole } from '../role';
import { RelaySession } from './session';

export { RelaySession } from './session';
export type { RelaySide, RelayStats, DirectionStats, SideInfo } from './session';
export { readAudioTarget, rewriteSdpAddresses } from './sdp';

export interface MediaRelay extends RunningRole<{ host: string }> {
  /** Opens the two sockets of a new call. Rejects when the configured port range is exhausted. */
  allocate(callRef: string): Promise<RelaySession>;
  /** Sessions not yet closed. */
  sessions(): RelaySession[];
}

export async function startMediaRelay(deps: RoleDeps): Promise<MediaRelay> {
  const host = deps.config.host;
  const { portMin, portMax } = deps.config.media;
  const log = (message: string): void => deps.log('media-relay', message);
  const ports = new PortAllocator(host, portMin, portMax);
  const open = new Set<RelaySession>();

  return {
    endpoints: { host },
    async allocate(callRef: string): Promise<RelaySession> {
      const socketA = await ports.bind(log);
      let socketB: Socket;
      try {
        socketB = await ports.bind(log);
      } catch (error) {
        socketA.close();
        throw error;
      }
      const session = new RelaySession(callRef, host, socketA, socketB, (closed) => open.delete(closed), log);
      open.add(session);
      return session;
    },
    sessions: () => [...open],
    async stop(): Promise<void> {
      await Promise.all([...open].map((session) => session.close()));
    },
  };
}

/** Binds UDP sockets on ephemeral ports, or round-robin inside [portMin, portMax]. */
class PortAllocator {
  private cursor: number;

  constructor(
    private readonly host: string,
    private readonly portMin: number,
    private readonly portMax: number,
  ) {
    if (portMin < 0 || portMax < portMin || portMax > 65535)
      throw new Error(`invalid media port range ${portMin}-${portMax}`);
    this.cursor = portMin;
  }

  async bind(log: (message: string) => void): Promise<Socket> {
    if (this.portMin === 0 && this.portMax === 0) return bindUdp(this.host, 0, log);
    const size = this.portMax - this.portMin + 1;
    for (let attempt = 0; attempt < size; attempt += 1) {
      const port = this.cursor;
      this.cursor = port >= this.portMax ? this.portMin : port + 1;
      try {
        return await bindUdp(this.host, port, log);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      }
    }
    throw new Error(
      `media port range ${this.portMin}-${this.portMax} exhausted: every port is in use (config.media)`,
    );
  }
}

function bindUdp(host: string, port: number, log: (message: string) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const onBindError = (error: Error): void => {
      socket.close();
      reject(error);
    };
    socket.once('error', onBindError);
    socket.bind(port, host, () => {
      socket.off('error', onBindError);
      const boundPort = socket.address().port;
      // After binding, socket errors (e.g. ICMP unreachable reported on send) are logged, never fatal.
      socket.on('error', (error) => log(`relay socket ${host}:${boundPort}: ${error.message}`));
      resolve(socket);
    });
  });
}
