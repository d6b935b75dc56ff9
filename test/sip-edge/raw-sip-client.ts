/**
 * A deliberately small raw-SIP UDP endpoint for testing the edge: its own parser and digest
 * (independent of the platform's), requests and responses built by hand, and event-driven
 * waits whose timeouts say what was awaited and what arrived instead.
 */
import dgram, { type Socket } from 'node:dgram';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';

export interface RawMessage {
  startLine: string;
  /** Request method, or undefined for a response. */
  method?: string;
  requestUri?: string;
  status?: number;
  /** Lower-case header name → values in order. */
  headers: Map<string, string[]>;
  body: string;
  text: string;
  from: { address: string; port: number };
}

export function parseRaw(text: string, from: { address: string; port: number }): RawMessage {
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? '' : text.slice(split + 4);
  const [startLine = '', ...lines] = head.split('\r\n');
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  const response = /^SIP\/2\.0 (\d{3}) /.exec(startLine);
  const request = /^(\S+) (\S+) SIP\/2\.0$/.exec(startLine);
  return {
    startLine,
    method: request?.[1],
    requestUri: request?.[2],
    status: response ? Number(response[1]) : undefined,
    headers,
    body,
    text,
    from,
  };
}

export function header(message: RawMessage, name: string): string | undefined {
  return message.headers.get(name.toLowerCase())?.[0];
}

export function tagOf(headerValue: string | undefined): string | undefined {
  return headerValue ? /;tag=([^;>\s]+)/.exec(headerValue)?.[1] : undefined;
}

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

/** Answers a Digest challenge (qop=auth when offered, RFC 2069 form otherwise). */
export function digestAnswer(
  challenge: string,
  o: { username: string; password: string; method: string; uri: string },
): string {
  const param = (name: string): string | undefined =>
    new RegExp(`${name}="?([^",]+)"?`, 'i').exec(challenge)?.[1];
  const realm = param('realm') ?? '';
  const nonce = param('nonce') ?? '';
  const opaque = param('opaque');
  const qop = /qop="?auth/i.test(challenge) ? 'auth' : undefined;
  const ha1 = md5(`${o.username}:${realm}:${o.password}`);
  const ha2 = md5(`${o.method}:${o.uri}`);
  const cnonce = randomBytes(4).toString('hex');
  const nc = '00000001';
  const response = qop ? md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
  return [
    `Digest username="${o.username}"`,
    `realm="${realm}"`,
    `nonce="${nonce}"`,
    `uri="${o.uri}"`,
    `response="${response}"`,
    'algorithm=MD5',
    ...(opaque ? [`opaque="${opaque}"`] : []),
    ...(qop ? [`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`] : []),
  ].join(', ');
}

export interface RequestSpec {
  method: string;
  uri: string;
  from: string;
  to: string;
  callId: string;
  cseq: number;
  branch?: string;
  headers?: Array<[string, string]>;
  body?: string;
}

export class RawSipClient {
  readonly received: RawMessage[] = [];
  private readonly waiters = new Set<(message: RawMessage) => void>();

  private constructor(
    readonly name: string,
    private readonly socket: Socket,
    /** Where requests go; a test may point the phone at another edge node. */
    public server: { host: string; port: number },
  ) {
    socket.on('message', (data, info) => {
      const message = parseRaw(data.toString('utf8'), { address: info.address, port: info.port });
      this.received.push(message);
      for (const waiter of [...this.waiters]) waiter(message);
    });
  }

  /**
   * `port`: a given local port (a proxy the edge is told to trust before the client exists);
   * `host`: another loopback address (127.0.0.2 …), a sender the edge tells apart from 127.0.0.1.
   */
  static async open(
    name: string,
    server: { host: string; port: number },
    port = 0,
    host = '127.0.0.1',
  ): Promise<RawSipClient> {
    const socket = dgram.createSocket('udp4');
    socket.bind(port, host);
    await once(socket, 'listening');
    return new RawSipClient(name, socket, server);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get contact(): string {
    return `sip:${this.name}@${this.socket.address().address}:${this.port}`;
  }

  sendRaw(text: string | Buffer, to = this.server): void {
    this.socket.send(typeof text === 'string' ? Buffer.from(text) : text, to.port, to.host);
  }

  /** Builds and sends a request; returns its branch. */
  request(spec: RequestSpec): string {
    const branch = spec.branch ?? `z9hG4bK${randomBytes(6).toString('hex')}`;
    const body = spec.body ?? '';
    const lines = [
      `${spec.method} ${spec.uri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: ${spec.from}`,
      `To: ${spec.to}`,
      `Call-ID: ${spec.callId}`,
      `CSeq: ${spec.cseq} ${spec.method}`,
      ...(spec.headers ?? []).map(([n, v]) => `${n}: ${v}`),
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
    ];
    this.sendRaw(`${lines.join('\r\n')}\r\n\r\n${body}`);
    return branch;
  }

  /** Answers a request received from the edge (copies Via/From/To/Call-ID/CSeq). */
  reply(
    request: RawMessage,
    status: number,
    reason: string,
    options: { toTag?: string; headers?: Array<[string, string]>; body?: string } = {},
  ): void {
    const to = header(request, 'to') ?? '';
    const body = options.body ?? '';
    const lines = [
      `SIP/2.0 ${status} ${reason}`,
      ...(request.headers.get('via') ?? []).map((v) => `Via: ${v}`),
      `From: ${header(request, 'from')}`,
      `To: ${options.toTag && !tagOf(to) ? `${to};tag=${options.toTag}` : to}`,
      `Call-ID: ${header(request, 'call-id')}`,
      `CSeq: ${header(request, 'cseq')}`,
      ...(options.headers ?? []).map(([n, v]) => `${n}: ${v}`),
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
    ];
    this.sendRaw(`${lines.join('\r\n')}\r\n\r\n${body}`, {
      host: request.from.address,
      port: request.from.port,
    });
  }

  /** The first message (already received or arriving) that matches. */
  waitFor(predicate: (m: RawMessage) => boolean, awaited: string, timeoutMs = 2000): Promise<RawMessage> {
    const existing = this.received.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(onMessage);
        const seen =
          this.received.map((m) => `  ${m.startLine} (${header(m, 'cseq') ?? '?'})`).join('\n') ||
          '  nothing';
        reject(
          new Error(
            `${this.name}: timed out after ${timeoutMs} ms waiting for ${awaited}. Received:\n${seen}`,
          ),
        );
      }, timeoutMs);
      const onMessage = (m: RawMessage): void => {
        if (!predicate(m)) return;
        clearTimeout(timer);
        this.waiters.delete(onMessage);
        resolve(m);
      };
      this.waiters.add(onMessage);
    });
  }

  /** Resolves once `count` messages matching the predicate have arrived; returns all of them. */
  async waitForCount(
    predicate: (m: RawMessage) => boolean,
    count: number,
    awaited: string,
    timeoutMs = 2000,
  ): Promise<RawMessage[]> {
    await this.waitFor(
      () => this.received.filter(predicate).length >= count,
      `${count} × ${awaited}`,
      timeoutMs,
    );
    return this.received.filter(predicate);
  }

  /** A response with this status to the request with this CSeq ("2 INVITE"). */
  waitForResponse(status: number, cseq: string, timeoutMs?: number): Promise<RawMessage> {
    return this.waitFor(
      (m) => m.status === status && header(m, 'cseq') === cseq,
      `${status} to ${cseq}`,
      timeoutMs,
    );
  }

  waitForRequest(method: string, timeoutMs?: number): Promise<RawMessage> {
    return this.waitFor((m) => m.method === method, `a ${method} request`, timeoutMs);
  }

  async close(): Promise<void> {
    this.socket.close();
    await once(this.socket, 'close');
  }
}

/** An SDP offering PCMU + telephone-event on a port. */
export function sdp(port: number): string {
  return [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}
