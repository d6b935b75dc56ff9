import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAILOVER_TARGET_MS, firstSuccessAfterCrash } from '../../tasks/failover';
import type { Phase2World } from '../../world/world';
import type { NodeStatus } from '../../world/faults/fault-injector';
import { traffic } from '../../world/traffic-log';

/** Just what the failover time needs of a scenario: its faults, the seam's node list, attachments. */
function scenario(crashedAgoMs: number) {
  const attached: Array<{ name?: string; body: string }> = [];
  const nodes: NodeStatus[] = [
    { role: 'sip', node: 'a', state: 'down', pid: null, since: 'x' },
    { role: 'sip', node: 'b', state: 'active', pid: 7, since: '2026-12-04T22:00:00.000Z' },
  ];
  const world = {
    failover: {
      faults: [
        {
          role: 'sip',
          node: 'a',
          action: 'crash',
          requestedAt: Date.now() - crashedAgoMs,
          confirmedAt: Date.now(),
          evidence: '',
        },
      ],
      acknowledged: [],
    },
    env: { faults: { nodes: () => Promise.resolve(nodes) }, config: { waitMs: 100 }, platformLog: 'log' },
    attach: (body: string, options: { fileName?: string }) => attached.push({ name: options.fileName, body }),
  };
  return { world: world as unknown as Phase2World, attached };
}

test('the failover time runs from the crash to the first success, and the survivor is shown taking over', async () => {
  const { world, attached } = scenario(200);
  const mark = traffic.mark();
  let tries = 0;
  const { ms, attempts, value } = await firstSuccessAfterCrash(world, 'sip', 'a registration', async () => {
    tries += 1;
    if (tries < 3) throw new Error('no answer within 500 ms');
    return 'registered';
  });
  assert.equal(value, 'registered');
  assert.equal(attempts, 3);
  assert.ok(ms >= 200 && ms < 2000, `${ms} ms`);
  const metric = JSON.parse(attached.find((a) => a.name?.startsWith('Metric'))?.body ?? '{}') as {
    kind: string;
    role: string;
    ms: number;
  };
  assert.deepEqual([metric.kind, metric.role, metric.ms], ['failover', 'sip', ms]);
  assert.match(
    traffic.since(mark, 'FAULT')[0]?.summary ?? '',
    /serving again: a registration .*sip node b active/,
  );
});

test('past the target it fails naming the attempts, what they met and where to look', async () => {
  const { world } = scenario(FAILOVER_TARGET_MS - 150);
  await assert.rejects(
    firstSuccessAfterCrash(world, 'sip', 'a registration', () => Promise.reject(new Error('ECONNREFUSED'))),
    (error: Error) => {
      assert.match(error.message, /^No a registration within 30 s of the crash of SIP node a \(\d+ attempts/);
      assert.match(error.message, /\d+× ECONNREFUSED/);
      assert.match(error.message, /"Faults injected".*log/);
      return true;
    },
  );
});
