/**
 * The edge's SIP transports: one UDP socket and a WebSocket server (RFC 7118, subprotocol
 * "sip", one SIP message per frame). A Flow says where a message came from, which is also
 * where replies and requests to that party go (symmetric, NAT-friendly routing).
 */
import dgram, { type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export type Flow =
  | { transport: 'UDP'; address: string; port: number }
  | { transport: 'WS'; socket: WebSocket; connectionId: number; address: string; port: number };

export function describeFlow(flow: Flow): string {
  return flow.transport === 'UDP'
    ? `udp:${flow.address}:${flow.port}`
    : `ws#${flow.connectionId}(${flow.address}:${flow.port})`;
}

export function sameFlow(a: Flow, b: Flow): boolean {
  if (a.transport === 'UDP' && b.transport === 'UDP') return a.address === b.address && a.port === b.port;
  if (a.transport === 'WS' && b.transport === 'WS') return a.connectionId === b.connectionId;
  return false;
}

export interface SipTransportEvents {
  onMessage(data: Buffer, flow: Flow): void;
  onWsClosed(flow: Flow & { transport: 'WS' }): void;
  log(message: string): void;
}

export class SipTransports {
  private nextConnectionId = 1;
  private readonly wsFlows = new Set<WebSocket>();
  private stopped = false;

  private constructor(
    private readonly host: string,
    private readonly udp: Socket,
    private readonly wss: WebSocketServer,
    private readonly events: SipTransportEvents,
  ) {}

  static async start(
    host: string,
    udpPort: number,
    wsPort: number,
    events: SipTransportEvents,
  ): Promise<SipTransports> {
    const udp = await bindUdp(host, udpPort);
    let wss: WebSocketServer;
    try {
      wss = await listenWs(host, wsPort);
    } catch (error) {
      udp.close();
      throw error;
    }
    const transports = new SipTransports(host, udp, wss, events);
    transports.attach();
    return transports;
  }

  get udpPort(): number {
    return this.udp.address().port;
  }

  get wsPort(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  get wsUrl(): string {
    return `ws://${this.host}:${this.wsPort}`;
  }

  /** The Via sent-by for requests the edge originates over a flow's transport. */
  viaFor(flow: Flow): string {
    return flow.transport === 'UDP'
      ? `SIP/2.0/UDP ${this.host}:${this.udpPort}`
      : `SIP/2.0/WS ${this.host}:${this.wsPort}`;
  }

  /** The edge's Contact URI on a flow's transport. */
  contactFor(flow: Flow, user = 'edge'): string {
    return flow.transport === 'UDP'
      ? `sip:${user}@${this.host}:${this.udpPort};transport=udp`
      : `sip:${user}@${this.host}:${this.wsPort};transport=ws`;
  }

  /** Sends one message; false (and a log line) when the flow is gone (closed WebSocket). */
  send(flow: Flow, data: Buffer): boolean {
    if (this.stopped) {
      // A late timer or callback after stop: dgram would throw on the closed socket.
      this.events.log(`not sent to ${describeFlow(flow)}: the edge is stopping`);
      return false;
    }
    if (flow.transport === 'UDP') {
      this.udp.send(data, flow.port, flow.address, (error) => {
        if (error) this.events.log(`send to ${describeFlow(flow)} failed: ${error.message}`);
      });
      return true;
    }
    if (flow.socket.readyState !== flow.socket.OPEN) {
      this.events.log(`cannot send to ${describeFlow(flow)}: WebSocket is closed`);
      return false;
    }
    flow.socket.send(data.toString('utf8'), (error) => {
      if (error) this.events.log(`send to ${describeFlow(flow)} failed: ${error.message}`);
    });
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const socket of this.wsFlows) socket.terminate();
    await Promise.all([
      new Promise<void>((resolve) => this.wss.close(() => resolve())),
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
    ]);
  }

  private attach(): void {
    this.udp.on('message', (data, remote) =>
      this.deliver(data, { transport: 'UDP', address: remote.address, port: remote.port }),
    );
    this.udp.on('error', (error) => this.events.log(`UDP socket error: ${error.message}`));
    this.wss.on('error', (error) => this.events.log(`WebSocket server error: ${error.message}`));
    this.wss.on('connection', (socket, request) => {
      const flow: Flow & { transport: 'WS' } = {
        transport: 'WS',
        socket,
        connectionId: this.nextConnectionId++,
        address: request.socket.remoteAddress ?? 'unknown',
        port: request.socket.remotePort ?? 0,
      };
      if (socket.protocol !== 'sip') {
        // RFC 7118 §4.1: a SIP WebSocket server only talks the "sip" subprotocol.
        this.events.log(`${describeFlow(flow)} rejected: subprotocol "sip" not offered`);
        socket.close(1002, 'subprotocol "sip" required');
        return;
      }
      this.wsFlows.add(socket);
      // Text and binary frames both carry exactly one SIP message (RFC 7118 §5).
      socket.on('message', (data) => {
        const buffer = Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.isBuffer(data)
            ? data
            : Buffer.from(data);
        this.deliver(buffer, flow);
      });
      socket.on('error', (error) => this.events.log(`${describeFlow(flow)} error: ${error.message}`));
      socket.on('close', () => {
        this.wsFlows.delete(socket);
        this.events.onWsClosed(flow);
      });
    });
  }

  private deliver(data: Buffer, flow: Flow): void {
    // CRLF keep-alives (RFC 5626 §4.4.1 style) carry no message.
    if (data.toString('latin1').trim() === '') return;
    try {
      this.events.onMessage(data, flow);
    } catch (error) {
      this.events.log(
        `unhandled error processing a message from ${describeFlow(flow)}: ${(error as Error).stack ?? String(error)}`,
      );
    }
  }
}

function bindUdp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/**
 * Largest WebSocket message accepted. A SIP message is a few KiB (UDP caps it near 64 KiB too);
 * ws's default of 100 MiB would let one client make the edge buffer that much. ws closes the
 * connection with 1009 Message Too Big (RFC 6455 §7.4.1) when a frame or message exceeds it.
 */
export const WS_MAX_PAYLOAD_BYTES = 64 * 1024;

function listenWs(host: string, port: number): Promise<WebSocketServer> {
  return new Promise((resolve, reject) => {
    const wss = new WebSocketServer({
      host,
      port,
      maxPayload: WS_MAX_PAYLOAD_BYTES,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    wss.once('error', reject);
    wss.once('listening', () => {
      wss.off('error', reject);
      resolve(wss);
    });
  });
}
