/**
 * The sip-edge's side of rtpengine's "ng" control protocol (what Kamailio's rtpengine module
 * does): one UDP socket, a fresh cookie per command, retransmission with backoff until the relay
 * answers or the command times out. A relay that fails over to a standby on the same address
 * answers a retransmission, so a short outage costs a retry, not the call.
 */
import dgram, { type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { asText } from '../media-relay/bencode';
import { formatNgMessage, parseNgMessage, type NgDict } from '../media-relay/ng-protocol';

export type { NgDict } from '../media-relay/ng-protocol';

export interface NgAddress {
  host: string;
  port: number;
}

export interface NgClientOptions {
  /** First retransmission after this long; doubled up to `maxRetransmitMs`. */
  retransmitMs: number;
  maxRetransmitMs: number;
  /** The command fails when no reply came within this long. */
  timeoutMs: number;
  /** The address the client's own socket binds to (the platform's host); the relay's by default. */
  localHost?: string;
}

/** Long enough to ride out a relay failover (the standby takes over within about half a second). */
const DEFAULTS: NgClientOptions = { retransmitMs: 250, maxRetransmitMs: 1000, timeoutMs: 5000 };

interface Pending {
  resolve: (reply: NgDict) => void;
  reject: (error: Error) => void;
}

export class NgClient {
  private readonly pending = new Map<string, Pending>();
  private sequence = 0;
  private readonly prefix = randomBytes(4).toString('hex');
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly relay: NgAddress,
    private readonly options: NgClientOptions,
    private readonly log: (message: string) => void,
  ) {
    socket.on('message', (datagram, source) => {
      const from = `${source.address}:${source.port}`;
      // Only the relay answers: anything else on this socket is not a reply to us. (A relay named
      // by host name is matched by port only.)
      const fromRelay =
        source.port === relay.port && (isIP(relay.host) === 0 || source.address === relay.host);
      if (fromRelay) this.onReply(datagram, from);
      else log(`ng client: datagram from ${from}, not the relay ${this.relayName}; dropped`);
    });
  }

  static open(
    relay: NgAddress,
    log: (message: string) => void,
    options: Partial<NgClientOptions> = {},
  ): Promise<NgClient> {
    const socket = dgram.createSocket('udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, options.localHost ?? relay.host, () => {
        socket.off('error', reject);
        socket.on('error', (error) => log(`ng client socket: ${error.message}`));
        resolve(new NgClient(socket, relay, { ...DEFAULTS, ...options }, log));
      });
    });
  }

  /** "host:port" of the relay, for messages. */
  get relayName(): string {
    return `${this.relay.host}:${this.relay.port}`;
  }

  /**
   * Sends a command and resolves its reply. Rejects when the relay answers
   * `{result: "error"}` or stays silent for `timeoutMs`; the error names the relay and the command.
   */
  command(body: NgDict): Promise<NgDict> {
    const name = asText(body.command) ?? '?';
    const what = `ng "${name}"${body['call-id'] ? ` for call ${asText(body['call-id']) ?? ''}` : ''} to relay ${this.relayName}`;
    if (this.closed) return Promise.reject(new Error(`${what}: the ng client is closed`));
    this.sequence += 1;
    const cookie = `${this.prefix}_${this.sequence}`;
    const datagram = formatNgMessage(cookie, body);
    return new Promise<NgDict>((resolve, reject) => {
      const started = Date.now();
      let attempts = 0;
      let interval = this.options.retransmitMs;
      let timer: NodeJS.Timeout | null = null;
      const finish = (): void => {
        if (timer) clearTimeout(timer);
        this.pending.delete(cookie);
      };
      const send = (): void => {
        const elapsed = Date.now() - started;
        if (elapsed >= this.options.timeoutMs) {
          finish();
          reject(new Error(`${what}: no reply within ${this.options.timeoutMs} ms (${attempts} attempts)`));
          return;
        }
        attempts += 1;
        this.socket.send(datagram, this.relay.port, this.relay.host, (error) => {
          if (error) this.log(`${what}: send failed: ${error.message}`);
        });
        timer = setTimeout(send, Math.min(interval, this.options.timeoutMs - elapsed));
        interval = Math.min(interval * 2, this.options.maxRetransmitMs);
      };
      this.pending.set(cookie, {
        resolve: (reply) => {
          finish();
          if (asText(reply.result) === 'error')
            reject(new Error(`${what}: error: ${asText(reply['error-reason']) ?? 'no error-reason given'}`));
          else resolve(reply);
        },
        reject: (error) => {
          finish();
          reject(new Error(`${what}: ${error.message}`));
        },
      });
      send();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pending of [...this.pending.values()]) pending.reject(new Error('the ng client is closed'));
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private onReply(datagram: Buffer, from: string): void {
    let cookie: string;
    let body: NgDict;
    try {
      ({ cookie, body } = parseNgMessage(datagram));
    } catch (error) {
      this.log(`ng reply from ${from}: ${(error as Error).message}; dropped`);
      return;
    }
    // A late duplicate of a reply already taken (a retransmission crossed it) finds nothing: fine.
    this.pending.get(cookie)?.resolve(body);
  }
}
