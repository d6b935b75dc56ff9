import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import smpp, { type PDU } from 'smpp';
import { SmppLink, SmppResponseTimeout, type SmppLinkOptions } from '../../platform/smsc/smpp-link';
import { Observed } from '../../world/observed';
import { RawEsme, settlesWithin } from './raw-esme';

/** A platform-side SmppLink on one end of a loopback connection, a RawEsme on the other. */
async function linkPair(
  options: SmppLinkOptions,
  allowHalfOpen = false,
): Promise<{
  link: SmppLink;
  peer: RawEsme;
  requests: Observed<PDU>;
  log: string[];
  close(): Promise<void>;
}> {
  const log: string[] = [];
  const requests = new Observed<PDU>((p) => `${p.command} seq ${p.sequence_number}`);
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => {
    server.once('connection', resolve);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const peer = await RawEsme.connect({ host: '127.0.0.1', port }, allowHalfOpen);
  const link = new SmppLink(await accepted, 'test link', options, (m) => log.push(m));
  link.on('request', (pdu) => requests.add(pdu));
  return {
    link,
    peer,
    requests,
    log,
    async close() {
      link.destroy();
      await peer.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('after a bad command_length the link reads nothing more and destroys a half-open peer after the grace period', async () => {
  const pair = await linkPair({ responseTimeoutMs: 1_000, closeGraceMs: 150 }, true);
  try {
    const linkClosed = new Promise<void>((resolve) => pair.link.once('close', () => resolve()));
    const bad = Buffer.alloc(16);
    bad.writeUInt32BE(8, 0); // command_length 8: below the header size
    pair.peer.socket.write(bad);
    const nack = await pair.peer.pdus.waitFor((p) => p.command === 'generic_nack', {
      awaited: 'generic_nack ESME_RINVCMDLEN',
      timeoutMs: 1_000,
    });
    assert.equal(nack.command_status, smpp.errors.ESME_RINVCMDLEN);
    // The peer keeps its side open and keeps pushing bytes (the memory DoS of the review).
    const junk = Buffer.alloc(64 * 1024, 0x41);
    for (let i = 0; i < 32; i += 1) pair.peer.socket.write(junk);
    assert.ok(
      await settlesWithin(linkClosed, 2_000),
      'the platform destroyed the half-open connection after its grace period',
    );
    assert.equal(pair.link.bufferedBytes, 0, 'nothing the peer sent after the end was kept');
    assert.ok(pair.log.some((line) => line.includes('did not close within 150 ms')));
  } finally {
    await pair.close();
  }
});

test('framing: a PDU split into single bytes and several PDUs in one read are all decoded, buffers bounded', async () => {
  const pair = await linkPair({ responseTimeoutMs: 1_000 });
  try {
    const enquire = (sequence: number): Buffer =>
      new smpp.PDU('enquire_link', { sequence_number: sequence }).toBuffer();
    for (const byte of enquire(1)) pair.peer.socket.write(Buffer.from([byte]));
    pair.peer.socket.write(Buffer.concat([enquire(2), enquire(3), enquire(4).subarray(0, 7)]));
    pair.peer.socket.write(enquire(4).subarray(7));
    await pair.requests.waitFor((p) => p.sequence_number === 4, {
      awaited: 'the fourth enquire_link decoded',
      timeoutMs: 1_000,
    });
    assert.deepEqual(
      pair.requests.all().map((p) => [p.command, p.sequence_number]),
      [
        ['enquire_link', 1],
        ['enquire_link', 2],
        ['enquire_link', 3],
        ['enquire_link', 4],
      ],
    );
    assert.equal(pair.link.bufferedBytes, 0);
  } finally {
    await pair.close();
  }
});

test('a response after the timeout is still handed over within the late-response grace', async () => {
  const pair = await linkPair({ responseTimeoutMs: 100, lateResponseGraceMs: 2_000 });
  try {
    const error = await pair.link.request('enquire_link').then(
      () => assert.fail('answered before any response was sent'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof SmppResponseTimeout, String(error));
    const request = await pair.peer.pdus.waitFor((p) => p.command === 'enquire_link', {
      awaited: 'the enquire_link at the peer',
      timeoutMs: 1_000,
    });
    pair.peer.respond(request);
    const late = await error.lateResponse;
    assert.equal(late?.command, 'enquire_link_resp');
    assert.equal(late?.sequence_number, request.sequence_number);
  } finally {
    await pair.close();
  }
});

test('without a grace (or once the link closes) a timed-out request has no late response', async () => {
  const pair = await linkPair({ responseTimeoutMs: 50 });
  try {
    const error = await pair.link.request('enquire_link').catch((e: unknown) => e);
    assert.ok(error instanceof SmppResponseTimeout);
    assert.equal(await error.lateResponse, null);
  } finally {
    await pair.close();
  }
});
