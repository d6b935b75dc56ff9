/**
 * The transaction layer on its own, over a recording fake transport: UDP retransmits, a
 * WebSocket (reliable) never does, and the 64·T1 timeouts apply to both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WebSocket } from 'ws';
import { parseSipMessage, type SipRequest } from '../../platform/sip-edge/message';
import { SipStack } from '../../platform/sip-edge/stack';
import type { Flow, SipTransports } from '../../platform/sip-edge/transport';

const TIMERS = { t1Ms: 10, t2Ms: 40, t4Ms: 50 };
const UDP: Flow = { transport: 'UDP', address: '127.0.0.1', port: 5099 };
const WS: Flow = {
  transport: 'WS',
  socket: {} as WebSocket, // never used: the fake transport records instead of sending
  connectionId: 1,
  address: '127.0.0.1',
  port: 5098,
};

function fakeStack(): { stack: SipStack; sent: string[]; logs: string[]; stop: () => void } {
  const sent: string[] = [];
  const logs: string[] = [];
  const transports = {
    viaFor: (flow: Flow) => `SIP/2.0/${flow.transport} 127.0.0.1:5060`,
    send: (_flow: Flow, data: Buffer) => {
      sent.push(data.toString('utf8').split('\r\n')[0] ?? '');
      return true;
    },
  } as unknown as SipTransports; // only the two methods the stack calls here
  const stack = new SipStack(transports, (m) => logs.push(m), TIMERS);
  // The stack unrefs its timers (a real edge has sockets keeping the process up); the fake has
  // none, so this handle stands in for them until the test stops the stack.
  const keepAlive = setInterval(() => undefined, 60_000);
  const stop = (): void => {
    stack.stop();
    clearInterval(keepAlive);
  };
  return { stack, sent, logs, stop };
}

function invite(flow: Flow): SipRequest {
  const text = [
    'INVITE sip:bob@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/${flow.transport} 127.0.0.1:${flow.port};branch=z9hG4bKstack1;rport`,
    'Max-Forwards: 70',
    'From: <sip:alice@127.0.0.1>;tag=a1',
    'To: <sip:bob@127.0.0.1>',
    'Call-ID: stack-test-1',
    'CSeq: 1 INVITE',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const parsed = parseSipMessage(Buffer.from(text));
  assert.ok(parsed.ok && parsed.message.kind === 'request');
  return parsed.message;
}

const outgoingInvite = {
  method: 'INVITE',
  uri: 'sip:bob@127.0.0.1',
  headers: [
    ['From', '<sip:edge@127.0.0.1>;tag=e1'],
    ['To', '<sip:bob@127.0.0.1>'],
    ['Call-ID', 'stack-test-out'],
    ['CSeq', '1 INVITE'],
  ] as Array<[string, string]>,
};

for (const flow of [UDP, WS]) {
  test(`an unanswered INVITE over ${flow.transport} times out after 64·T1 (${flow.transport === 'UDP' ? 'retransmitted' : 'sent once'})`, async () => {
    const { stack, sent, stop } = fakeStack();
    try {
      await new Promise<void>((resolve) => stack.sendRequest(flow, outgoingInvite, { onTimeout: resolve }));
      const invites = sent.filter((line) => line.startsWith('INVITE'));
      if (flow.transport === 'UDP') assert.ok(invites.length >= 4, `${invites.length} transmissions`);
      else assert.equal(invites.length, 1, 'nothing is retransmitted over a reliable transport');
    } finally {
      stop();
    }
  });

  test(`an unACKed 2xx over ${flow.transport} ends the session after 64·T1 (${flow.transport === 'UDP' ? 'retransmitted' : 'sent once'})`, async () => {
    const { stack, sent, stop } = fakeStack();
    try {
      const request = invite(flow);
      assert.equal(stack.beginServerTransaction(request, flow), true);
      await new Promise<void>((resolve) =>
        stack.respond(request, flow, 200, { toTag: 't', onNoAck: resolve }),
      );
      const oks = sent.filter((line) => line.startsWith('SIP/2.0 200'));
      if (flow.transport === 'UDP') assert.ok(oks.length >= 4, `${oks.length} transmissions`);
      else assert.equal(oks.length, 1, 'nothing is retransmitted over a reliable transport');
    } finally {
      stop();
    }
  });
}

test('the ACK stops the 2xx retransmission: no give-up callback', async () => {
  const { stack, sent, logs, stop } = fakeStack();
  try {
    const request = invite(UDP);
    stack.beginServerTransaction(request, UDP);
    let gaveUp = false;
    stack.respond(request, UDP, 200, { toTag: 't', onNoAck: () => (gaveUp = true) });
    const ackText = [
      'ACK sip:edge@127.0.0.1 SIP/2.0',
      'Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKack1;rport',
      'Max-Forwards: 70',
      'From: <sip:alice@127.0.0.1>;tag=a1',
      'To: <sip:bob@127.0.0.1>;tag=t',
      'Call-ID: stack-test-1',
      'CSeq: 1 ACK',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const ack = parseSipMessage(Buffer.from(ackText));
    assert.ok(ack.ok && ack.message.kind === 'request');
    assert.equal(stack.receiveAck(ack.message), false, 'a 2xx ACK still goes to the dialog layer');
    // A later transaction's timeout is the event to wait for: by then the 2xx wait would have fired.
    await new Promise<void>((resolve) =>
      stack.sendRequest(
        UDP,
        { ...outgoingInvite, headers: [...outgoingInvite.headers] },
        { onTimeout: resolve },
      ),
    );
    assert.equal(gaveUp, false, `the ACK was not honoured. Log:\n${logs.join('\n')}`);
    assert.equal(sent.filter((line) => line.startsWith('SIP/2.0 200')).length, 1);
  } finally {
    stop();
  }
});
