import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { UdpTransport } from '../../world/sip/transports';

// A BYE that meets silence (the platform's SIP address being taken over) is re-sent on Timer E,
// as a real phone's is, and no more once anything answers it.
test('a BYE is re-sent on RFC 3261 Timer E until a response arrives, then never again', async () => {
  const platform = createSocket('udp4');
  await new Promise<void>((resolve) => platform.bind(0, '127.0.0.1', resolve));
  const arrivals: Array<{ at: number; text: string; from: RemoteInfo }> = [];
  platform.on('message', (data, from) =>
    arrivals.push({ at: Date.now(), text: data.toString('utf8'), from }),
  );
  const transport = new UdpTransport(undefined, {
    actor: 'phone',
    outboundProxy: { host: '127.0.0.1', port: platform.address().port },
  });
  await transport.connect();
  try {
    const bye = [
      'BYE sip:bob@127.0.0.1 SIP/2.0',
      `Via: SIP/2.0/UDP 127.0.0.1:${transport.localPort};branch=z9hG4bKbye1;rport`,
      'From: <sip:alice@127.0.0.1>;tag=a',
      'To: <sip:bob@127.0.0.1>;tag=b',
      'Call-ID: retransmit-test',
      'CSeq: 2 BYE',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const sentAt = Date.now();
    await transport.send(bye);
    while (arrivals.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    const gap = (arrivals[1]?.at ?? 0) - sentAt;
    assert.ok(gap >= 450 && gap < 1_500, `first retransmission after ${gap} ms, Timer E starts at 500 ms`);
    assert.equal(arrivals[1]?.text, bye, 'the retransmission is the same request');
    const answer = bye.replace('BYE sip:bob@127.0.0.1 SIP/2.0', 'SIP/2.0 200 OK');
    const to = arrivals[0]?.from;
    assert.ok(to);
    platform.send(answer, to.port, to.address);
    const answeredWith = arrivals.length;
    // Timer E's next firing would be 1 s after the first retransmission: wait past it.
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    assert.equal(arrivals.length, answeredWith, 'the BYE was re-sent after it was answered');
  } finally {
    await transport.disconnect();
    platform.close();
  }
});
