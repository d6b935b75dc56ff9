/**
 * The PSTN double against a hand-written SIP peer on loopback (no platform): the ACK of its
 * 200 OK, problems in the evidence, several doubles side by side, and a clean stop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { Observed, WaitTimeoutError } from '../../world/observed';
import { PstnDouble, timerGSchedule } from '../../world/sip/pstn-double';
import { traffic } from '../../world/traffic-log';

const WAIT_MS = 2000;

/**
 * Open UDP sockets in this process. libuv drops a closed handle in the close-callbacks phase,
 * after the close() callback ran: two check phases later it is surely gone.
 */
async function udpSockets(): Promise<number> {
  for (let turn = 0; turn < 2; turn += 1) await new Promise((done) => setImmediate(done));
  return process.getActiveResourcesInfo().filter((name) => name === 'UDPWrap').length;
}

async function bound(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((done) => socket.bind(0, '127.0.0.1', done));
  return socket;
}

/** A platform stand-in: sends INVITEs, answers BYEs with 200, and ACKs only when told to. */
class SipPeer {
  readonly received = new Observed<string>((text) => text.split('\r\n', 1)[0]);
  private constructor(
    private readonly socket: Socket,
    private readonly media: Socket,
  ) {
    socket.on('message', (buffer, from) => {
      const text = buffer.toString('utf8');
      this.received.add(text);
      if (text.startsWith('BYE ')) this.send(okFor(text), from.port);
    });
  }

  static async open(): Promise<SipPeer> {
    return new SipPeer(await bound(), await bound());
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(text: string, port: number): void {
    this.socket.send(text, port, '127.0.0.1');
  }

  invite(to: number, callId: string, number = '+15550001'): void {
    const sdp = [
      'v=0',
      'o=- 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.media.address().port} RTP/AVP 0`,
      'a=sendrecv',
      '',
    ].join('\r\n');
    this.send(
      [
        `INVITE sip:${number}@127.0.0.1:${to} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${callId};rport`,
        'Max-Forwards: 70',
        `From: <sip:+15559999@127.0.0.1>;tag=peer-${callId}`,
        `To: <sip:${number}@127.0.0.1>`,
        `Call-ID: ${callId}`,
        'CSeq: 10 INVITE',
        `Contact: <sip:platform@127.0.0.1:${this.port}>`,
        'Content-Type: application/sdp',
        `Content-Length: ${Buffer.byteLength(sdp)}`,
        '',
        sdp,
      ].join('\r\n'),
      to,
    );
  }

  ok(callId: string): Promise<string> {
    return this.received.waitFor((t) => t.startsWith('SIP/2.0 200') && t.includes(`Call-ID: ${callId}`), {
      awaited: `200 OK for ${callId}`,
      timeoutMs: WAIT_MS,
    });
  }

  /** An in-dialog request from the peer (ACK of the 2xx, BYE) for the dialog the 200 OK set up. */
  inDialog(method: 'ACK' | 'BYE', ok: string, to: number, cseq: number): void {
    const header = (name: string): string => new RegExp(`^${name}: (.*)$`, 'm').exec(ok)?.[1] ?? '';
    this.send(
      [
        `${method} ${header('Contact').replace(/^<|>.*$/g, '')} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${method}${cseq}${Date.now()};rport`,
        'Max-Forwards: 70',
        `From: ${header('From')}`,
        `To: ${header('To')}`,
        `Call-ID: ${header('Call-ID')}`,
        `CSeq: ${cseq} ${method}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      to,
    );
  }

  /** Idempotent; resolves once both sockets are closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.socket, this.media].map((s) => new Promise<void>((done) => s.close(done))));
  }

  private closed = false;
}

function okFor(request: string): string {
  const lines = request.split('\r\n');
  const keep = lines.filter((line) => /^(Via|From|To|Call-ID|CSeq):/i.test(line));
  return ['SIP/2.0 200 OK', ...keep, 'Content-Length: 0', '', ''].join('\r\n');
}

test('a call to the PSTN is confirmed when the platform ACKs the 200 OK', async () => {
  const pstn = new PstnDouble();
  await pstn.start();
  const peer = await SipPeer.open();
  try {
    const { port } = pstn.address();
    peer.invite(port, 'confirm-1');
    const ok = await peer.ok('confirm-1');
    const call = await pstn.calls.waitFor((c) => c.callId === 'confirm-1', {
      awaited: 'the answered call',
      timeoutMs: WAIT_MS,
    });
    assert.equal(call.confirmedAt, undefined, 'not before the ACK');
    peer.inDialog('ACK', ok, port, 10);
    await call.waitUntilConfirmed(WAIT_MS);
    assert.ok(call.confirmedAt !== undefined);
    assert.deepEqual(
      call.events.all().map((e) => e.kind),
      ['answered', 'confirmed'],
    );
    await call.hangup();
    assert.deepEqual(pstn.problems.all(), []);
  } finally {
    await pstn.stop();
    await peer.close();
  }
});

test('no ACK for the 200 OK: the wait names the retransmissions, the problem shows in the evidence', async () => {
  const pstn = new PstnDouble({ actor: 'PSTN', timerT1Ms: 10, transactionTimeoutMs: 500 });
  await pstn.start();
  const peer = await SipPeer.open();
  const mark = traffic.mark();
  try {
    peer.invite(pstn.address().port, 'no-ack-1');
    await peer.ok('no-ack-1');
    const call = await pstn.calls.waitFor((c) => c.callId === 'no-ack-1', {
      awaited: 'the answered call',
      timeoutMs: WAIT_MS,
    });
    await assert.rejects(call.waitUntilConfirmed(40), (error: unknown) => {
      assert.ok(error instanceof WaitTimeoutError);
      assert.match(error.message, /ACK for the 200 OK of call no-ack-1/);
      assert.match(error.message, /So far: no ACK after [1-9]\d* retransmission\(s\) of 200 OK/);
      return true;
    });
    await assert.rejects(
      call.waitUntilConfirmed(WAIT_MS),
      /no-ack-1 to \+15550001: no ACK after 6 retransmission\(s\) of 200 OK within 640 ms/,
    );
    assert.equal(call.okRetransmissions, 6);
    // Given up on, the double ends the call it cannot trust.
    await call.waitUntilEnded(WAIT_MS);
    assert.equal(pstn.problems.all().length, 1);
    assert.match(pstn.problems.all()[0], /^no ACK after 6 retransmission\(s\) of 200 OK to INVITE no-ack-1/);
    const recorded = traffic.since(mark, 'SIP').filter((e) => e.summary.startsWith('PROBLEM:'));
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0].from, 'PSTN');
    assert.match(recorded[0].summary, /^PROBLEM: no ACK after 6/);
  } finally {
    await pstn.stop();
    await peer.close();
  }
});

test('Timer G: retransmissions timed from the first send, doubling from T1, capped at T2', () => {
  assert.deepEqual(timerGSchedule(10, 640), [10, 30, 70, 150, 310, 630]);
  // T1 = 500 ms: 500, 1000, 2000, 4000, then T2 = 4000 ms apart until Timer H (32 s).
  assert.deepEqual(
    timerGSchedule(500, 32_000),
    [500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500],
  );
});

test('no ACK on a busy machine: a blocked event loop neither drops retransmissions nor reorders Timer H', async () => {
  const pstn = new PstnDouble({ actor: 'PSTN', timerT1Ms: 10, transactionTimeoutMs: 500 });
  await pstn.start();
  const peer = await SipPeer.open();
  try {
    peer.invite(pstn.address().port, 'busy-1');
    await peer.ok('busy-1');
    // Hold the loop past Timer H (640 ms): every retransmission and the give-up are overdue at once.
    const until = Date.now() + 700;
    while (Date.now() < until) {
      /* busy: what a loaded CI machine does to timers */
    }
    const call = await pstn.calls.waitFor((c) => c.callId === 'busy-1', {
      awaited: 'the answered call',
      timeoutMs: WAIT_MS,
    });
    await assert.rejects(
      call.waitUntilConfirmed(WAIT_MS),
      /no ACK after 6 retransmission\(s\) of 200 OK within 640 ms/,
    );
  } finally {
    await pstn.stop();
    await peer.close();
  }
});

test('a call ended before its ACK, and a call the double placed, are not confirmed', async () => {
  const pstn = new PstnDouble();
  await pstn.start();
  const peer = await SipPeer.open();
  try {
    const { port } = pstn.address();
    peer.invite(port, 'bye-first');
    const ok = await peer.ok('bye-first');
    const call = await pstn.calls.waitFor((c) => c.callId === 'bye-first', {
      awaited: 'the answered call',
      timeoutMs: WAIT_MS,
    });
    peer.inDialog('BYE', ok, port, 11);
    await assert.rejects(
      call.waitUntilConfirmed(WAIT_MS),
      /bye-first to \+15550001 was ended \(BYE received\) by remote before the platform ACKed the 200 OK/,
    );

    const placed = await pstn.call('+15557777', '+15558888', { host: '127.0.0.1', port: peer.port });
    await assert.rejects(placed.waitUntilConfirmed(10), /placed by the double/);
  } finally {
    await pstn.stop();
    await peer.close();
  }
});

test('two doubles run side by side, and stop() releases every socket, calls up or not', async () => {
  const baseline = await udpSockets();
  const first = new PstnDouble({ actor: 'PSTN A' });
  const second = new PstnDouble({ actor: 'PSTN B' });
  await Promise.all([first.start(), second.start()]);
  const peer = await SipPeer.open();
  try {
    assert.notEqual(first.address().port, second.address().port);
    second.behaviourFor('+15550002', { answer: 'ring' });
    peer.invite(first.address().port, 'side-a');
    peer.invite(second.address().port, 'side-b', '+15550002');
    const answered = await first.calls.waitFor((c) => c.callId === 'side-a', {
      awaited: 'the call at PSTN A',
      timeoutMs: WAIT_MS,
    });
    await second.invites.waitFor((i) => i.callId === 'side-b', {
      awaited: 'the INVITE at PSTN B',
      timeoutMs: WAIT_MS,
    });
    assert.equal(first.invites.filter((i) => i.callId === 'side-b').length, 0, 'each double sees its own');
    assert.equal(second.calls.all().length, 0);
    assert.ok((await udpSockets()) > baseline);

    await Promise.all([first.stop(), second.stop()]);
    assert.ok(answered.isEnded, 'the call still up was ended');
    await peer.close();
    assert.equal(await udpSockets(), baseline, 'no socket left open');
    assert.throws(() => first.address(), /not started/);

    await first.start();
    assert.ok(first.address().port > 0, 'a stopped double starts again');
    await first.stop();
    assert.equal(await udpSockets(), baseline);
  } finally {
    await Promise.all([first.stop(), second.stop(), peer.close()]);
  }
});
