import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SmppCommandError, SmppCustomerSession } from '../../world/smpp/smpp-session';
import { EMBEDDED_SPAM_SETTINGS } from '../../platform/smsc/spam-filter';
import { ACCOUNT, CUSTOMER, eventually, startHarness, statusOf, type SmscHarness } from './harness';

let h: SmscHarness;
let session: SmppCustomerSession;
before(async () => {
  h = await startHarness({ throughputPerSecond: 50 });
  session = new SmppCustomerSession({ responseTimeoutMs: 1_000, enquireLinkMs: 0 });
  await session.connect({ ...h.smsc.endpoints, actor: 'acme ESME' });
  await session.bind({ ...ACCOUNT, mode: 'transceiver' });
});
after(async () => {
  await session.close();
  await h.close();
});

let nextNumber = 447700900800;
const handsetNumber = (): string => `+${nextNumber++}`;
const SENDER = '+14155550100';
const PHRASE = EMBEDDED_SPAM_SETTINGS.phishingPhrases[0] ?? 'no phrase configured';
const DOMAIN = EMBEDDED_SPAM_SETTINGS.blockedLinkDomains[0] ?? 'no-domain.example';

async function refusal(submit: Promise<unknown>): Promise<string> {
  const error = await submit.then(
    () => assert.fail('the submit_sm was accepted'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SmppCommandError, String(error));
  return error.statusName;
}

function rowsTo(to: string): Array<{ id: string; status: string; error_code: string | null }> {
  return h.db.prepare('SELECT id, status, error_code FROM messages WHERE recipient = ?').all(to) as Array<{
    id: string;
    status: string;
    error_code: string | null;
  }>;
}

/** Nothing reached the network for `to`, proven after a later text to another handset arrived. */
async function nothingSentTo(to: string): Promise<void> {
  const control = handsetNumber();
  const { messageId } = await session.submit({
    source: SENDER,
    destination: control,
    text: 'control',
    registeredDelivery: false,
  });
  await statusOf(h, messageId, 'delivered');
  assert.deepEqual(h.carrier.handset(to).inbox.all(), []);
}

test('a submit_sm with a phishing phrase is refused ESME_RSUBMITFAIL, recorded rejected and announced', async () => {
  const to = handsetNumber();
  const status = await refusal(
    session.submit({
      source: SENDER,
      destination: to,
      text: `Hello, ${PHRASE} now`,
      registeredDelivery: true,
    }),
  );
  assert.equal(status, 'ESME_RSUBMITFAIL');
  const rows = rowsTo(to);
  assert.deepEqual(
    rows.map((r) => [r.status, r.error_code]),
    [['rejected', 'spam:phishing-phrase']],
  );
  await eventually(
    () => h.statuses.all().some((e) => e.messageId === rows[0]?.id && e.status === 'rejected'),
    'message.status rejected on the bus',
  );
  await nothingSentTo(to);
});

test('a long text is screened once complete: its last part is refused and the whole recorded rejected', async () => {
  const to = handsetNumber();
  const text = `Claim at https://x.${DOMAIN}/win ` + 'abcdefghij'.repeat(20);
  assert.equal(
    await refusal(session.submit({ source: SENDER, destination: to, text, registeredDelivery: false })),
    'ESME_RSUBMITFAIL',
  );
  assert.deepEqual(
    rowsTo(to).map((r) => [r.status, r.error_code]),
    [['rejected', 'spam:blocked-link']],
  );
  await nothingSentTo(to);
});

test('a submit_sm to a number that opted out of the customer is refused ESME_RINVDSTADR and not stored', async () => {
  const to = handsetNumber();
  h.db
    .prepare("INSERT INTO opt_outs (customer_id, number, source, created_at) VALUES (?, ?, 'sms', ?)")
    .run(CUSTOMER, to, new Date().toISOString());
  assert.equal(
    await refusal(
      session.submit({
        source: SENDER,
        destination: to,
        text: 'Your statement is ready',
        registeredDelivery: false,
      }),
    ),
    'ESME_RINVDSTADR',
  );
  assert.deepEqual(rowsTo(to), []);
  await nothingSentTo(to);
});
