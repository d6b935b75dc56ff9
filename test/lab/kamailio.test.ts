/**
 * lab/kamailio.cfg in real Kamailio (installed by the lab lane; `npm run unit` leaves test/lab/
 * out): a phone's REGISTER reaches the sip-edge with a Path that leads back to the phone, a
 * request the edge sends along that Path reaches the phone, and a sip-edge that
 * stops answering is given up within the tuned fr_timer and taken back once its pings are answered;
 * the jail at the door counts only fresh challenges to requests that carried credentials.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import {
  answersOptions,
  dispatcherList,
  kamailioDefines,
  startKamailio,
  type RunningKamailio,
} from '../../lab/kamailio';
import { header, parseRaw, RawSipClient, type RawMessage } from '../sip-edge/raw-sip-client';

/** A sip-edge stand-in: while `alive`, answers OPTIONS (pings) and MESSAGE with 200 and keeps every other message. */
class FakeEdge {
  alive = true;
  readonly requests: RawMessage[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    socket.on('message', (data, from) => {
      const message = parseRaw(data.toString('utf8'), { address: from.address, port: from.port });
      if (!this.alive) return;
      if (message.method === 'OPTIONS' || message.method === 'MESSAGE') this.reply(message, 200, 'OK');
      if (message.method !== 'OPTIONS') this.requests.push(message);
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  static async open(): Promise<FakeEdge> {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    return new FakeEdge(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  reply(request: RawMessage, status: number, reason: string, extra: Array<[string, string]> = []): void {
    const lines = [
      `SIP/2.0 ${status} ${reason}`,
      ...(request.headers.get('via') ?? []).map((v) => `Via: ${v}`),
      `From: ${header(request, 'from')}`,
      `To: ${header(request, 'to')}${status > 100 ? ';tag=edge' : ''}`,
      `Call-ID: ${header(request, 'call-id')}`,
      `CSeq: ${header(request, 'cseq')}`,
      ...extra.map(([n, v]) => `${n}: ${v}`),
      'Content-Length: 0',
    ];
    this.socket.send(`${lines.join('\r\n')}\r\n\r\n`, request.from.port, request.from.address);
  }

  send(text: string, to: { host: string; port: number }): void {
    this.socket.send(text, to.port, to.host);
  }

  waitForRequest(method: string, callId: string, timeoutMs = 3000): Promise<RawMessage> {
    return this.waitFor(
      (m) => m.method === method && header(m, 'call-id') === callId,
      `${method} (Call-ID ${callId})`,
      timeoutMs,
    );
  }

  /** The first message from Kamailio (request or response, pings aside) that matches. */
  waitFor(predicate: (m: RawMessage) => boolean, awaited: string, timeoutMs = 3000): Promise<RawMessage> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.requests.find(predicate);
        if (!found) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        const seen = this.requests.map((m) => m.startLine).join('; ') || 'nothing';
        reject(new Error(`fake sip-edge: no ${awaited} from Kamailio within ${timeoutMs} ms (got: ${seen})`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.socket.close();
  }
}

let runDir: string;
let edge: FakeEdge;
let kamailio: RunningKamailio;

before(async () => {
  runDir = mkdtempSync(join(tmpdir(), 'lab-kamailio-test-'));
  edge = await FakeEdge.open();
  kamailio = await startKamailio({
    udpPort: 0,
    wsPort: 0,
    sipEdges: [{ host: '127.0.0.1', port: edge.port }],
    domain: '127.0.0.1',
    runDir,
    logFile: join(runDir, 'kamailio.log'),
  });
});

after(async () => {
  await kamailio?.daemon.stop();
  edge?.close();
  rmSync(runDir, { recursive: true, force: true });
});

test('the dispatcher list names the sip-edge, and Kamailio serves UDP and WebSocket on loopback', () => {
  assert.equal(kamailio.udp.host, '127.0.0.1');
  assert.match(kamailio.ws, /^ws:\/\/127\.0\.0\.1:\d+$/);
  const list = readFileSync(join(runDir, `dispatcher-${kamailio.udp.port}.list`), 'utf8');
  assert.equal(list, `1 sip:127.0.0.1:${edge.port} 0 1\n`);
});

test('a REGISTER reaches the sip-edge with a Path back to the phone; a request along that Path reaches the phone', async () => {
  const phone = await RawSipClient.open('alice', kamailio.udp);
  try {
    phone.request({
      method: 'REGISTER',
      uri: 'sip:127.0.0.1',
      from: '<sip:alice@127.0.0.1>;tag=a1',
      to: '<sip:alice@127.0.0.1>',
      callId: 'lab-reg-1',
      cseq: 1,
      headers: [
        ['Contact', `<${phone.contact}>`],
        ['Supported', 'path'],
      ],
    });
    const register = await edge.waitForRequest('REGISTER', 'lab-reg-1');
    const path = register.headers.get('path') ?? [];
    assert.equal(path.length, 1, `one Path header, got ${JSON.stringify(path)}`);
    assert.match(
      path[0] ?? '',
      new RegExp(
        `^<sip:127\\.0\\.0\\.1:${kamailio.udp.port};lr;received=sip:127\\.0\\.0\\.1:${phone.port}>$`,
      ),
    );
    const vias = register.headers.get('via') ?? [];
    assert.match(
      vias[1] ?? '',
      new RegExp(`;rport=${phone.port}`),
      'the phone’s Via records its source port',
    );
    edge.reply(register, 200, 'OK', [
      ['Contact', `<${phone.contact}>;expires=60`],
      ['Path', path[0] ?? ''],
    ]);
    await phone.waitForResponse(200, '1 REGISTER');

    // The sip-edge calls the registered contact with the Path as Route (RFC 3327 §5).
    edge.send(
      [
        `OPTIONS ${phone.contact.replace(/:\d+$/, ':1')} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${edge.port};branch=z9hG4bKedgeopt1;rport`,
        `Route: ${path[0] ?? ''}`,
        'Max-Forwards: 70',
        'From: <sip:edge@127.0.0.1>;tag=e1',
        `To: <${phone.contact}>`,
        'Call-ID: lab-edge-opt-1',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      kamailio.udp,
    );
    // The Request-URI names a port nobody listens on: only the Path's received finds the phone.
    const delivered = await phone.waitForRequest('OPTIONS', 3000);
    assert.equal(header(delivered, 'call-id'), 'lab-edge-opt-1');
    assert.equal(delivered.headers.get('route'), undefined, 'Kamailio consumed its own Route');
  } finally {
    await phone.close();
  }
});

test('a WebSocket phone: its REGISTER carries a Path to its connection, and a request along that Path comes back over it', async () => {
  const socket = new WebSocket(kamailio.ws, 'sip');
  await once(socket, 'open');
  const received: string[] = [];
  const arrived = new Set<() => void>();
  socket.on('message', (data: Buffer) => {
    received.push(data.toString('utf8'));
    for (const check of [...arrived]) check();
  });
  const next = (what: RegExp, awaited: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = received.find((m) => what.test(m));
        if (!found) return;
        clearTimeout(timer);
        arrived.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        arrived.delete(check);
        reject(
          new Error(
            `WS phone: no ${awaited} within 3000 ms (got: ${received.map((m) => m.split('\r\n')[0]).join('; ') || 'nothing'})`,
          ),
        );
      }, 3000);
      arrived.add(check);
      check();
    });
  try {
    const contact = 'sip:dora@df7jal23ls0d.invalid;transport=ws';
    socket.send(
      [
        'REGISTER sip:127.0.0.1 SIP/2.0',
        'Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKwsreg1',
        'Max-Forwards: 70',
        'From: <sip:dora@127.0.0.1>;tag=d1',
        'To: <sip:dora@127.0.0.1>',
        'Call-ID: lab-ws-reg-1',
        'CSeq: 1 REGISTER',
        `Contact: <${contact}>`,
        'Supported: path, outbound',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    const register = await edge.waitForRequest('REGISTER', 'lab-ws-reg-1');
    const path = register.headers.get('path') ?? [];
    assert.ok(path.length > 0, 'a Path on a WebSocket REGISTER');
    assert.match(
      path.join(','),
      /received=sip:127\.0\.0\.1:\d+(;|%3B)transport(=|%3D)ws/i,
      'the Path names the WS connection',
    );
    edge.reply(register, 200, 'OK', [['Contact', `<${contact}>;expires=60`]]);
    await next(/^SIP\/2\.0 200 [\s\S]*lab-ws-reg-1/, 'the 200 to REGISTER');

    edge.send(
      [
        `OPTIONS ${contact} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${edge.port};branch=z9hG4bKedgews1;rport`,
        ...path.map((p) => `Route: ${p}`),
        'Max-Forwards: 70',
        'From: <sip:edge@127.0.0.1>;tag=e2',
        `To: <${contact}>`,
        'Call-ID: lab-edge-ws-1',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      kamailio.udp,
    );
    await next(/^OPTIONS [\s\S]*lab-edge-ws-1/, 'the OPTIONS the sip-edge sent along the Path');
  } finally {
    socket.close();
  }
});

test('a sip-edge that stops answering is given up after fr_timer (not tm’s 30 s) and taken back once it answers pings', async () => {
  const phone = await RawSipClient.open('bob', kamailio.udp);
  edge.alive = false;
  try {
    const started = Date.now();
    phone.request({
      method: 'MESSAGE',
      uri: 'sip:carol@127.0.0.1',
      from: '<sip:bob@127.0.0.1>;tag=b1',
      to: '<sip:carol@127.0.0.1>',
      callId: 'lab-dead-edge-1',
      cseq: 1,
    });
    const timeout = await phone.waitFor(
      (m) => m.status !== undefined && m.status >= 400,
      'a failure answer',
      6000,
    );
    const waited = Date.now() - started;
    assert.equal(timeout.status, 408, `408 from Kamailio's own timer, got ${timeout.startLine}`);
    assert.ok(waited < 4000, `given up after ${waited} ms; FR_TIMER_MS is 2000`);

    edge.alive = true;
    // Pings every second: once one is answered the node is active again and requests flow.
    const back = Date.now();
    let cseq = 2;
    for (;;) {
      phone.request({
        method: 'MESSAGE',
        uri: 'sip:carol@127.0.0.1',
        from: '<sip:bob@127.0.0.1>;tag=b1',
        to: '<sip:carol@127.0.0.1>',
        callId: 'lab-dead-edge-1',
        cseq,
      });
      const answer = await phone.waitFor(
        (m) => m.status !== undefined && header(m, 'cseq') === `${cseq} MESSAGE`,
        `an answer to MESSAGE ${cseq}`,
        4000,
      );
      if (answer.status === 503) {
        assert.ok(Date.now() - back < 4000, 'the node was not taken back within 4 s of answering pings');
        await new Promise<void>((resolve) => edge.socket.once('message', () => resolve()));
        cseq += 1;
        continue;
      }
      assert.equal(
        edge.requests.some((m) => header(m, 'cseq') === `${cseq} MESSAGE`),
        true,
      );
      break;
    }
  } finally {
    edge.alive = true;
    await phone.close();
  }
});

test('a flood from one address is cut off by pike and the address banned; the sip-edge itself is never throttled', async () => {
  // A second instance with a low threshold: 10 requests per 2 s, ban for 60 s.
  const floodDir = join(runDir, 'flood');
  const strict = await startKamailio({
    udpPort: 0,
    wsPort: 0,
    sipEdges: [{ host: '127.0.0.1', port: edge.port }],
    domain: '127.0.0.1',
    runDir: floodDir,
    logFile: join(floodDir, 'kamailio.log'),
    defines: { PIKE_DENSITY: '10', IPBAN_TABLE: '"ipban=>size=8;autoexpire=60;"' },
  });
  const flooder = await RawSipClient.open('flooder', strict.udp);
  try {
    const sent = 40;
    for (let i = 1; i <= sent; i++)
      flooder.request({
        method: 'MESSAGE',
        uri: 'sip:carol@127.0.0.1',
        from: '<sip:flooder@127.0.0.1>;tag=f1',
        to: '<sip:carol@127.0.0.1>',
        callId: `lab-flood-${i}`,
        cseq: 1,
      });
    // The last request is the one that shows the ban: it is never answered.
    await assert.rejects(
      flooder.waitFor(
        (m) => header(m, 'call-id') === `lab-flood-${sent}`,
        'an answer to the last request',
        1500,
      ),
      /timed out/,
    );
    const answered = flooder.received.filter((m) => m.status === 200).length;
    assert.ok(answered >= 5 && answered < sent, `${answered} of ${sent} answered before the ban`);
    assert.match(readFileSync(join(floodDir, 'kamailio.log'), 'utf8'), /pike: flood from 127\.0\.0\.1/);
    // The sip-edge (same address, its own port) is not banned: its request reaches the flooder.
    edge.send(
      [
        `OPTIONS ${flooder.contact} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${edge.port};branch=z9hG4bKedgeflood;rport`,
        'Max-Forwards: 70',
        'From: <sip:edge@127.0.0.1>;tag=e3',
        `To: <${flooder.contact}>`,
        'Call-ID: lab-edge-after-flood',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      strict.udp,
    );
    await flooder.waitFor(
      (m) => m.method === 'OPTIONS',
      'the sip-edge’s OPTIONS through the flooded Kamailio',
    );
  } finally {
    await flooder.close();
    await strict.daemon.stop();
  }
});

test('the door counts only fresh challenges to sent credentials: bare challenges, 403s and stale nonces never ban; the last allowed failure does', async () => {
  // lab/kamailio.cfg's defaults: 5 failures within 10 s ban for 3 s.
  const guesser = await RawSipClient.open('guesser', kamailio.udp, 0, '127.0.0.11');
  const fresh: Array<[string, string]> = [['WWW-Authenticate', 'Digest realm="127.0.0.1", nonce="n1"']];
  const stale: Array<[string, string]> = [
    ['WWW-Authenticate', 'Digest realm="127.0.0.1", nonce="n2", stale=true'],
  ];
  let n = 0;
  const exchange = async (credentials: boolean, status: number, extra: Array<[string, string]>) => {
    n += 1;
    const callId = `lab-jail-${n}`;
    guesser.request({
      method: 'REGISTER',
      uri: 'sip:127.0.0.1',
      from: '<sip:alice@127.0.0.1>;tag=g1',
      to: '<sip:alice@127.0.0.1>',
      callId,
      cseq: n,
      headers: credentials
        ? [
            [
              'Authorization',
              'Digest username="alice", realm="127.0.0.1", nonce="n1", uri="sip:127.0.0.1", response="00"',
            ],
          ]
        : [],
    });
    edge.reply(
      await edge.waitForRequest('REGISTER', callId),
      status,
      status === 403 ? 'Forbidden' : 'Unauthorized',
      extra,
    );
    await guesser.waitForResponse(status, `${n} REGISTER`);
  };
  try {
    for (let i = 0; i < 6; i++) await exchange(false, 401, fresh);
    for (let i = 0; i < 6; i++) await exchange(true, 403, []);
    for (let i = 0; i < 6; i++) await exchange(true, 401, stale);
    for (let i = 0; i < 5; i++) await exchange(true, 401, fresh);
    // Banned: the next request stops at the door. A witness from another address, sent after it,
    // reaches the edge; the banned one was dropped before Kamailio even read the witness.
    guesser.request({
      method: 'OPTIONS',
      uri: 'sip:alice@127.0.0.1',
      from: '<sip:alice@127.0.0.1>;tag=g2',
      to: '<sip:alice@127.0.0.1>',
      callId: 'lab-jail-banned',
      cseq: 1,
    });
    const witness = await RawSipClient.open('witness', kamailio.udp, 0, '127.0.0.12');
    try {
      witness.request({
        method: 'MESSAGE',
        uri: 'sip:carol@127.0.0.1',
        from: '<sip:witness@127.0.0.1>;tag=w1',
        to: '<sip:carol@127.0.0.1>',
        callId: 'lab-jail-witness',
        cseq: 1,
      });
      await witness.waitForResponse(200, '1 MESSAGE');
    } finally {
      await witness.close();
    }
    assert.deepEqual(
      edge.requests.filter((m) => header(m, 'call-id') === 'lab-jail-banned'),
      [],
      "the banned address's request should stop at the door",
    );
    const log = readFileSync(join(runDir, 'kamailio.log'), 'utf8');
    assert.match(log, /jail: 127\.0\.0\.11 banned .* after 5 failed authentications \(REGISTER for alice\)/);
    assert.match(log, /jail: OPTIONS from banned 127\.0\.0\.11:\d+ dropped/);
  } finally {
    await guesser.close();
  }
});

test('the launcher: dispatcher priorities follow the order given, -A values are quoted, a silent port is given up on', async () => {
  assert.equal(
    dispatcherList([
      { host: '127.0.0.1', port: 5070 },
      { host: '127.0.0.1', port: 5072 },
    ]),
    '1 sip:127.0.0.1:5070 0 2\n1 sip:127.0.0.1:5072 0 1\n',
  );
  const args = kamailioDefines({
    udpPort: 5062,
    wsPort: 8082,
    runDir: '/tmp/run',
    dispatcherList: '/tmp/run/d.list',
    modulesDir: '/usr/lib/kamailio/modules',
    extra: { PIKE_DENSITY: '50' },
  });
  assert.deepEqual(args.slice(0, 4), ['-A', 'SIP_PORT=5062', '-A', 'WS_PORT=8082']);
  assert.ok(args.includes('RUN_DIR="/tmp/run"') && args.includes('PIKE_DENSITY=50'));
  assert.throws(
    () => kamailioDefines({ udpPort: 1, wsPort: 2, runDir: '/tmp/"x', dispatcherList: 'd', modulesDir: 'm' }),
    /cannot quote/,
  );

  const silent = createSocket('udp4');
  silent.bind(0, '127.0.0.1');
  await once(silent, 'listening');
  try {
    await assert.rejects(
      answersOptions({ host: '127.0.0.1', port: silent.address().port }, '127.0.0.1', 300),
      /no 200 to OPTIONS .* within 300 ms/,
    );
  } finally {
    silent.close();
  }
});

test('a request along the Path of a WebSocket phone whose connection is gone is answered 430 Flow Failed (RFC 5626 §5.3)', async () => {
  const socket = new WebSocket(kamailio.ws, 'sip');
  await once(socket, 'open');
  const contact = 'sip:erin@q8w7e6r5.invalid;transport=ws';
  socket.send(
    [
      'REGISTER sip:127.0.0.1 SIP/2.0',
      'Via: SIP/2.0/WSS q8w7e6r5.invalid;branch=z9hG4bKwsreg2',
      'Max-Forwards: 70',
      'From: <sip:erin@127.0.0.1>;tag=e1',
      'To: <sip:erin@127.0.0.1>',
      'Call-ID: lab-ws-reg-2',
      'CSeq: 1 REGISTER',
      `Contact: <${contact}>`,
      'Supported: path',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
  const register = await edge.waitForRequest('REGISTER', 'lab-ws-reg-2');
  const path = register.headers.get('path') ?? [];
  socket.close();
  await once(socket, 'close');
  edge.send(
    [
      `INVITE ${contact} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${edge.port};branch=z9hG4bKedgews2;rport`,
      ...path.map((p) => `Route: ${p}`),
      'Max-Forwards: 70',
      'From: <sip:edge@127.0.0.1>;tag=e4',
      `To: <${contact}>`,
      'Call-ID: lab-edge-ws-gone',
      'CSeq: 1 INVITE',
      'Contact: <sip:edge@127.0.0.1>',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
    kamailio.udp,
  );
  const answer = await edge.waitFor(
    (m) => m.status !== undefined && m.status >= 300 && header(m, 'call-id') === 'lab-edge-ws-gone',
    'the final answer to the INVITE for a closed WebSocket',
  );
  assert.equal(answer.startLine, 'SIP/2.0 430 Flow Failed');
});
