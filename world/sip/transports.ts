import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EmitterImpl, TransportState, type Emitter, type Transport } from 'sip.js';
import WebSocket from 'ws';
import { peerNames, traffic } from '../traffic-log';
import {
  parseNameAddr,
  parseSipUri,
  parseVia,
  redactSip,
  responseDestination,
  summarizeSip,
} from './sip-text';

/**
 * sip.js transports for Node (sip.js ships only a browser WebSocket one). Both deliver exactly
 * one complete SIP message per onMessage call, only while Connected, never reconnect on their
 * own, and record every message in the traffic log.
 */

interface CommonTransportOptions {
  /** Actor name of this endpoint in the traffic log ("alice-phone"). */
  actor: string;
  /** Actor name of whatever is on the other side ("platform SIP", "PSTN"). */
  peerActor?: string;
}

export interface UdpTransportOptions extends CommonTransportOptions {
  /** Every request goes here (a phone's outbound proxy); without it requests follow Route / Request-URI. */
  outboundProxy?: { host: string; port: number };
  bindHost?: string;
}

export interface WsTransportOptions extends CommonTransportOptions {
  url: string;
  /** Protocol timeout for the WebSocket handshake; default 5000 ms. */
  connectTimeoutMs?: number;
}

abstract class NodeTransport implements Transport {
  abstract readonly protocol: string;
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;

  protected readonly actor: string;
  protected readonly peerActor: string;
  private readonly emitter = new EmitterImpl<TransportState>();
  private currentState = TransportState.Disconnected;

  /** `server`: where this transport sends, for a target that names who listens there (lab: Kamailio). */
  protected constructor(options: CommonTransportOptions, server?: { host: string; port: number }) {
    this.actor = options.actor;
    this.peerActor =
      (server && peerNames.nameOf(server.host, server.port)) ?? options.peerActor ?? 'platform SIP';
  }

  get state(): TransportState {
    return this.currentState;
  }

  get stateChange(): Emitter<TransportState> {
    return this.emitter;
  }

  isConnected(): boolean {
    return this.currentState === TransportState.Connected;
  }

  abstract connect(): Promise<void>;
  abstract disconnect(): Promise<void>;
  abstract send(message: string): Promise<void>;

  async dispose(): Promise<void> {
    await this.disconnect();
  }

  protected transition(state: TransportState, error?: Error): void {
    if (state === this.currentState) return;
    const previous = this.currentState;
    this.currentState = state;
    this.emitter.emit(state);
    if (state === TransportState.Connected) this.onConnect?.();
    if (state === TransportState.Disconnected && previous !== TransportState.Connecting)
      this.onDisconnect?.(error);
  }

  protected recordSent(message: string, to: string, note?: string): void {
    traffic.record({
      protocol: 'SIP',
      from: this.actor,
      to,
      summary: note ? `${summarizeSip(message)} — ${note}` : summarizeSip(message),
      detail: redactSip(message),
    });
  }

  protected deliver(message: string, from: string): void {
    if (!this.isConnected()) {
      traffic.record({
        protocol: 'SIP',
        from,
        to: this.actor,
        summary: `dropped (transport not connected): ${summarizeSip(message)}`,
        detail: redactSip(message),
      });
      return;
    }
    // Keep-alives (CRLF) are not messages.
    if (message.trim().length === 0) return;
    traffic.record({
      protocol: 'SIP',
      from,
      to: this.actor,
      summary: summarizeSip(message),
      detail: redactSip(message),
    });
    this.onMessage?.(message);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function requireActor(options: unknown, transport: string): CommonTransportOptions & Record<string, unknown> {
  if (!isObject(options) || typeof options.actor !== 'string') {
    throw new TypeError(
      `${transport} needs transportOptions with an actor name (got ${JSON.stringify(options)})`,
    );
  }
  return options as CommonTransportOptions & Record<string, unknown>;
}

/** SIP over UDP on one socket bound to 127.0.0.1:0 (RFC 3261 §18, RFC 3581 symmetric responses). */
export class UdpTransport extends NodeTransport {
  readonly protocol = 'UDP';
  private readonly options: UdpTransportOptions;
  private socket: Socket | undefined;
  /** Where each received request came from, by top Via branch: responses go back there. */
  private readonly requestSources = new Map<string, RemoteInfo>();
  /** BYEs awaiting any response, by Via branch: re-sent on RFC 3261 Timer E until answered. */
  private readonly unansweredByes = new Map<string, NodeJS.Timeout>();

  // sip.js calls `new transportConstructor(logger, transportOptions)`; the logger is not needed.
  constructor(_logger: unknown, options: unknown) {
    const checked = requireActor(options, 'UdpTransport') as UdpTransportOptions;
    super(checked, checked.outboundProxy);
    this.options = checked;
  }

  /** The bound port (valid once connected): the phone's Contact must carry it. */
  get localPort(): number {
    if (!this.socket) throw new Error(`${this.actor}: UDP transport is not connected, it has no port yet`);
    return this.socket.address().port;
  }

  get localHost(): string {
    return this.options.bindHost ?? '127.0.0.1';
  }

  async connect(): Promise<void> {
    if (this.socket) return;
    this.transition(TransportState.Connecting);
    const socket = createSocket('udp4');
    socket.on('message', (datagram, from) => this.onDatagram(datagram.toString('utf8'), from));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, this.localHost, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      this.transition(TransportState.Disconnected);
      throw new Error(
        `${this.actor}: could not bind a UDP socket on ${this.localHost}: ${(error as Error).message}`,
      );
    }
    socket.on('error', (error) => {
      traffic.record({
        protocol: 'SIP',
        from: this.actor,
        to: this.peerActor,
        summary: `UDP socket error: ${error.message}`,
      });
    });
    this.socket = socket;
    this.transition(TransportState.Connected);
  }

  async disconnect(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.transition(TransportState.Disconnecting);
    this.socket = undefined;
    for (const timer of this.unansweredByes.values()) clearTimeout(timer);
    this.unansweredByes.clear();
    await new Promise<void>((done) => socket.close(() => done()));
    this.transition(TransportState.Disconnected);
  }

  send(message: string): Promise<void> {
    const socket = this.socket;
    if (!socket || !this.isConnected())
      return Promise.reject(new Error(`${this.actor}: cannot send SIP, UDP transport is not connected`));
    let destination: { host: string; port: number };
    try {
      destination = this.destinationOf(message);
    } catch (error) {
      return Promise.reject(
        new Error(
          `${this.actor}: no destination for "${summarizeSip(message)}": ${(error as Error).message}`,
        ),
      );
    }
    this.recordSent(message, this.peerActor);
    if (message.startsWith('BYE ')) this.retransmitUntilAnswered(message, destination);
    return new Promise<void>((resolve, reject) =>
      socket.send(message, destination.port, destination.host, (error) =>
        error
          ? reject(
              new Error(
                `${this.actor}: UDP send to ${destination.host}:${destination.port} failed: ${error.message}`,
              ),
            )
          : resolve(),
      ),
    );
  }

  /**
   * sip.js does not retransmit over UDP (FACTS §3); a real phone re-sends a non-INVITE request on
   * Timer E (T1 = 500 ms, doubling to T2 = 4 s) until a response or Timer F (64·T1). Done for BYE:
   * a hang-up sent while the platform's SIP address is being taken over by a standby must still
   * reach it, as a real phone's would.
   */
  private retransmitUntilAnswered(message: string, destination: { host: string; port: number }): void {
    const branch = topViaBranch(message);
    if (!branch) return;
    const startedAt = Date.now();
    const schedule = (intervalMs: number): void => {
      const timer = setTimeout(() => {
        const socket = this.socket;
        if (!socket || Date.now() - startedAt + intervalMs > TIMER_F_MS) {
          this.unansweredByes.delete(branch);
          return;
        }
        this.recordSent(message, this.peerActor, 'retransmission (Timer E)');
        socket.send(message, destination.port, destination.host);
        schedule(Math.min(intervalMs * 2, T2_MS));
      }, intervalMs);
      this.unansweredByes.set(branch, timer);
    };
    schedule(T1_MS);
  }

  private onDatagram(text: string, from: RemoteInfo): void {
    if (text.startsWith('SIP/2.0')) {
      const branch = topViaBranch(text);
      const timer = branch ? this.unansweredByes.get(branch) : undefined;
      if (branch && timer) {
        clearTimeout(timer);
        this.unansweredByes.delete(branch);
      }
    }
    if (!text.startsWith('SIP/2.0')) {
      const via = /^(?:Via|v)\s*:\s*(.+)$/im.exec(text)?.[1];
      const branch = via ? /;\s*branch=([^;,\s]+)/i.exec(via)?.[1] : undefined;
      if (branch) {
        this.requestSources.set(branch, from);
        if (this.requestSources.size > 1000)
          this.requestSources.delete(this.requestSources.keys().next().value as string);
      }
    }
    this.deliver(text, this.peerActor);
  }

  private destinationOf(message: string): { host: string; port: number } {
    const blankLine = message.indexOf('\r\n\r\n');
    const headerSection = blankLine < 0 ? message : message.slice(0, blankLine);
    const startLine = headerSection.slice(0, headerSection.indexOf('\r\n'));
    if (startLine.startsWith('SIP/2.0')) {
      const via = /^(?:Via|v)\s*:\s*(.+)$/im.exec(headerSection)?.[1];
      if (!via) throw new Error('response has no Via');
      const topVia = parseVia(via.split(',')[0]);
      const source = this.requestSources.get(topVia.params.get('branch') ?? '');
      return source ? { host: source.address, port: source.port } : responseDestination(topVia);
    }
    if (this.options.outboundProxy) return this.options.outboundProxy;
    const route = /^Route\s*:\s*(.+)$/im.exec(headerSection)?.[1];
    const target = route ? parseNameAddr(route.split(',')[0]).uri : startLine.split(' ')[1];
    const uri = parseSipUri(target);
    return { host: uri.host, port: uri.port ?? 5060 };
  }
}

/** RFC 3261 timers for the phone's own retransmissions over UDP. */
const T1_MS = 500;
const T2_MS = 4_000;
const TIMER_F_MS = 64 * T1_MS;

function topViaBranch(message: string): string | undefined {
  const via = /^(?:Via|v)\s*:\s*(.+)$/im.exec(message)?.[1];
  return via ? /;\s*branch=([^;,\s]+)/i.exec(via)?.[1] : undefined;
}

/** SIP over WebSocket (RFC 7118, subprotocol "sip"), one message per frame. */
export class WsTransport extends NodeTransport {
  readonly protocol = 'WS';
  private readonly options: WsTransportOptions;
  private socket: WebSocket | undefined;
  private closingOnPurpose = false;

  constructor(_logger: unknown, options: unknown) {
    const checked = requireActor(options, 'WsTransport');
    if (typeof checked.url !== 'string')
      throw new TypeError('WsTransport needs transportOptions.url (ws://host:port/path)');
    super(checked, wsServer(checked.url));
    this.options = options as WsTransportOptions;
  }

  async connect(): Promise<void> {
    if (this.socket) return;
    this.transition(TransportState.Connecting);
    const url = this.options.url;
    const timeoutMs = this.options.connectTimeoutMs ?? 5000;
    const socket = new WebSocket(url, 'sip');
    this.closingOnPurpose = false;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          socket.terminate();
          reject(new Error(`no WebSocket handshake from ${url} within ${timeoutMs} ms`));
        }, timeoutMs);
        socket.once('open', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
    } catch (error) {
      this.transition(TransportState.Disconnected);
      const message = (error as Error).message;
      // ws refuses a handshake without (or with another) subprotocol itself: say what that means.
      const cause = /subprotocol/i.test(message)
        ? `${message}: the server did not confirm the WebSocket subprotocol "sip" (RFC 7118 §4)`
        : message;
      traffic.record({
        protocol: 'SIP',
        from: this.peerActor,
        to: this.actor,
        summary: `WebSocket connection to ${url} failed: ${cause}`,
      });
      throw new Error(`${this.actor}: could not connect SIP over WebSocket to ${url}: ${cause}`);
    }
    if (socket.protocol !== 'sip') {
      // RFC 7118 §4: without the confirmed "sip" subprotocol the server does not speak SIP on it.
      const cause = `the server did not confirm the WebSocket subprotocol "sip" (RFC 7118 §4; got ${socket.protocol ? `"${socket.protocol}"` : 'none'})`;
      traffic.record({
        protocol: 'SIP',
        from: this.peerActor,
        to: this.actor,
        summary: `WebSocket server at ${url}: ${cause}`,
      });
      socket.terminate();
      this.transition(TransportState.Disconnected);
      throw new Error(`${this.actor}: could not connect SIP over WebSocket to ${url}: ${cause}`);
    }
    socket.on('message', (data) => {
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data as ArrayBuffer).toString('utf8');
      this.deliver(text, this.peerActor);
    });
    socket.on('error', (error) => {
      traffic.record({
        protocol: 'SIP',
        from: this.actor,
        to: this.peerActor,
        summary: `WebSocket error: ${error.message}`,
      });
    });
    socket.on('close', (code, reason) => {
      this.socket = undefined;
      const unexpected = !this.closingOnPurpose;
      traffic.record({
        protocol: 'SIP',
        from: this.peerActor,
        to: this.actor,
        summary: `WebSocket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})${unexpected ? ' by the server' : ''}`,
      });
      this.transition(
        TransportState.Disconnected,
        unexpected ? new Error(`WebSocket to ${url} closed by the server (code ${code})`) : undefined,
      );
    });
    this.socket = socket;
    this.transition(TransportState.Connected);
  }

  async disconnect(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.closingOnPurpose = true;
    this.transition(TransportState.Disconnecting);
    if (socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((done) => {
      socket.once('close', () => done());
      socket.close(1000);
      // The server may never complete the closing handshake; the ws library then terminates it.
    });
  }

  send(message: string): Promise<void> {
    const socket = this.socket;
    if (!socket || !this.isConnected())
      return Promise.reject(
        new Error(`${this.actor}: cannot send SIP, WebSocket to ${this.options.url} is not connected`),
      );
    this.recordSent(message, this.peerActor);
    return new Promise<void>((resolve, reject) =>
      socket.send(message, (error) =>
        error ? reject(new Error(`${this.actor}: WebSocket send failed: ${error.message}`)) : resolve(),
      ),
    );
  }
}

/** host:port of a ws:// URL, or undefined when it names none. */
function wsServer(url: string): { host: string; port: number } | undefined {
  try {
    const parsed = new URL(url);
    const port = Number(parsed.port || (parsed.protocol === 'wss:' ? 443 : 80));
    return { host: parsed.hostname, port };
  } catch {
    return undefined;
  }
}
