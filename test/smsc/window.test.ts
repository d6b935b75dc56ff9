import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubmitWindow } from '../../platform/smsc/connector';
import { CUSTOMER, eventually, startHarness, statusOf } from './harness';
import { SubmitCountingProxy } from './submit-counting-proxy';

test('a backlog of 30 queued messages drains completely and in order, never more than the window outstanding', async () => {
  const h = await startHarness({ bindCarrier: false });
  const proxy = new SubmitCountingProxy(h.carrier.address());
  try {
    const window = h.config.smsc.connectorWindow;
    assert.equal(window, 10, 'the embedded default window');
    const relay = await proxy.listen();
    h.smsc.upsertConnector({ id: 'carrier-w', ...relay, systemId: 'platform', password: 'carrierpw' });
    h.smsc.setRoute('', 'carrier-w');

    const to = '+447700900950';
    const texts = Array.from({ length: 30 }, (_, i) => `backlog ${String(i + 1).padStart(2, '0')}`);
    const ids = texts.map(
      (text) =>
        h.smsc.acceptMessage({
          customerId: CUSTOMER,
          source: 'api',
          sender: 'ACME',
          recipient: to,
          text,
          registeredDelivery: false,
        }).id,
    );
    await eventually(
      () =>
        ids.every((id) => h.log.some((line) => line.includes(id) && line.includes('queued until it binds'))),
      'all 30 messages to be parked while the carrier is unreachable',
    );
    assert.equal(proxy.submits, 0);

    proxy.open(); // the connector's next reconnect binds, and the whole backlog is due at once
    const inbox = h.carrier.handset(to).inbox;
    await inbox.waitFor(() => inbox.all().length === texts.length, {
      awaited: `${texts.length} SMS on ${to}`,
      timeoutMs: 5_000,
    });
    for (const id of ids) await statusOf(h, id, 'delivered');

    assert.deepEqual(
      inbox.all().map((sms) => sms.text),
      texts,
      'delivered in the order accepted, each once',
    );
    assert.equal(proxy.submits, texts.length);
    assert.deepEqual(proxy.framingErrors, []);
    assert.ok(
      proxy.maxOutstanding <= window,
      `at most ${window} submits outstanding at the carrier, saw ${proxy.maxOutstanding}`,
    );
    assert.ok(proxy.maxOutstanding > 1, `submits are pipelined, saw at most ${proxy.maxOutstanding} at once`);
  } finally {
    await h.close();
    await proxy.close();
  }
});

test('SubmitWindow: bounded, FIFO, a settled request frees its slot, waiters fail when the link goes', async () => {
  const window = new SubmitWindow(2);
  const started: number[] = [];
  const finish = new Map<number, { ok: () => void; fail: (error: Error) => void }>();
  const send = (n: number) => () =>
    new Promise<number>((resolve, reject) => {
      started.push(n);
      finish.set(n, { ok: () => resolve(n), fail: reject });
    });
  const results = [1, 2, 3, 4, 5].map((n) => window.run(send(n)));
  assert.deepEqual(started, [1, 2]);
  assert.deepEqual(window.usage(), { outstanding: 2, waiting: 3, maxOutstanding: 2 });

  finish.get(2)?.ok();
  assert.equal(await results[1], 2);
  assert.deepEqual(started, [1, 2, 3], 'the first waiter takes the freed slot');

  finish.get(1)?.fail(new Error('timeout'));
  await assert.rejects(results[0], /timeout/);
  assert.deepEqual(started, [1, 2, 3, 4], 'a failed request frees its slot too');

  window.failWaiting(new Error('link closed'));
  await assert.rejects(results[4], /link closed/);
  assert.deepEqual(started, [1, 2, 3, 4], 'the request that never got a slot was never sent');
  finish.get(3)?.ok();
  finish.get(4)?.ok();
  assert.deepEqual(await Promise.all([results[2], results[3]]), [3, 4]);
  assert.deepEqual(window.usage(), { outstanding: 0, waiting: 0, maxOutstanding: 2 });
  assert.throws(() => new SubmitWindow(0), /positive integer/);
});
