import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PlatformBus } from '../../platform/bus';
import type { PlatformEvents } from '../../platform/bus';
import {
  EMBEDDED_SPAM_SETTINGS,
  recordSpamRejection,
  SpamFilter,
  type SpamSettings,
} from '../../platform/smsc/spam-filter';
import type { AcceptMessageInput } from '../../platform/smsc/service';
import { openStore, type Db } from '../../platform/store/store';

const SETTINGS: SpamSettings = {
  blockedLinkDomains: ['prize-claims.example'],
  phishingPhrases: ['verify your account'],
  protectedSenderIds: [{ senderId: 'PAYPAL', customerIds: ['cus_brand'] }],
  velocity: { maxRecipients: 3, windowMs: 60_000, newCustomerMs: 3_600_000 },
};

function withStore(run: (db: Db) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'spam-filter-'));
  const db = openStore(join(dir, 'platform.db'));
  try {
    run(db);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function customer(db: Db, id: string, createdAt: Date): void {
  db.prepare('INSERT INTO customers (id, name, tier, created_at) VALUES (?, ?, ?, ?)').run(
    id,
    id,
    'standard',
    createdAt.toISOString(),
  );
}

function text(overrides: Partial<AcceptMessageInput> = {}): AcceptMessageInput {
  return {
    customerId: 'cus_new',
    source: 'api',
    sender: '+15550001000',
    recipient: '+15550002000',
    text: 'Your parcel arrives today',
    registeredDelivery: true,
    ...overrides,
  };
}

/** Stores an accepted text as the SMSC would (only what the velocity count reads). */
function accepted(db: Db, input: AcceptMessageInput, acceptedAt: Date): void {
  db.prepare(
    `INSERT INTO messages (id, customer_id, source, sender, recipient, text, encoding, parts, status,
       carrier_message_ids, part_states, registered_delivery, attempts, accepted_at)
     VALUES (?, ?, ?, ?, ?, ?, 'gsm7', 1, 'queued', '[null]', '[null]', 1, 0, ?)`,
  ).run(
    `msg_${Math.random().toString(36).slice(2)}`,
    input.customerId,
    input.source,
    input.sender,
    input.recipient,
    input.text,
    acceptedAt.toISOString(),
  );
}

test('a link to a blocked domain or any of its subdomains is refused, with or without a scheme', () =>
  withStore((db) => {
    const filter = new SpamFilter(db, SETTINGS);
    for (const body of [
      'Claim now: https://prize-claims.example/win',
      'Claim now at www.Prize-Claims.example',
      'go to login.prize-claims.example?x=1',
    ])
      assert.equal(filter.verdict(text({ text: body }))?.rule, 'blocked-link', body);
    // A domain that merely ends with the same letters is someone else's.
    assert.equal(filter.verdict(text({ text: 'see https://notprize-claims.example/' })), null);
    assert.equal(filter.verdict(text({ text: 'prize-claims example, no link' })), null);
  }));

test('a phishing phrase is matched as whole words, ignoring case, spacing and punctuation', () =>
  withStore((db) => {
    const filter = new SpamFilter(db, SETTINGS);
    assert.equal(
      filter.verdict(text({ text: 'Please VERIFY  your\naccount today!' }))?.rule,
      'phishing-phrase',
    );
    assert.equal(filter.verdict(text({ text: 'Please verify: your account.' }))?.rule, 'phishing-phrase');
    // Shares every word, but not the phrase: a legitimate text.
    assert.equal(
      filter.verdict(text({ text: 'Your account is ready; verify the address on your invoice' })),
      null,
    );
    assert.equal(filter.verdict(text({ text: 'we verify your accountant' })), null);
  }));

test('a protected sender id is refused unless the customer is registered for it; other ids pass', () =>
  withStore((db) => {
    const filter = new SpamFilter(db, SETTINGS);
    const refused = filter.verdict(text({ sender: 'PayPal' }));
    assert.equal(refused?.rule, 'unregistered-sender');
    assert.match(refused?.reason ?? '', /PayPal/);
    assert.equal(filter.verdict(text({ sender: 'PAYPAL', customerId: 'cus_brand' })), null);
    assert.equal(filter.verdict(text({ sender: 'HOOLI' })), null);
  }));

test('a new customer sending one text to more recipients than allowed in the window is refused', () =>
  withStore((db) => {
    const now = Date.parse('2026-12-05T03:00:00.000Z');
    customer(db, 'cus_new', new Date(now - 60_000));
    const filter = new SpamFilter(db, SETTINGS);
    const same = 'Great offer just for you';
    for (const recipient of ['+15550002001', '+15550002002', '+15550002003']) {
      assert.equal(filter.verdict(text({ text: same, recipient }), now), null, recipient);
      accepted(db, text({ text: same, recipient }), new Date(now - 1_000));
    }
    assert.equal(filter.verdict(text({ text: same, recipient: '+15550002004' }), now)?.rule, 'velocity');
    // The same recipient again is not a new one; another text is not the same text.
    assert.equal(filter.verdict(text({ text: same, recipient: '+15550002003' }), now), null);
    assert.equal(filter.verdict(text({ text: 'Another text', recipient: '+15550002004' }), now), null);
    // Outside the window the earlier sends no longer count.
    assert.equal(filter.verdict(text({ text: same, recipient: '+15550002004' }), now + 61_000), null);
  }));

test('velocity spares established customers and the platform’s own texts', () =>
  withStore((db) => {
    const now = Date.parse('2026-12-05T03:00:00.000Z');
    customer(db, 'cus_old', new Date(now - 2 * 3_600_000));
    customer(db, 'cus_new', new Date(now - 1_000));
    const filter = new SpamFilter(db, SETTINGS);
    for (let i = 1; i <= 4; i += 1) {
      accepted(
        db,
        text({ customerId: 'cus_old', text: 'Monthly newsletter', recipient: `+1555000300${i}` }),
        new Date(now),
      );
      accepted(db, text({ text: 'Your code is 1234', recipient: `+1555000400${i}` }), new Date(now));
    }
    assert.equal(
      filter.verdict(
        text({ customerId: 'cus_old', text: 'Monthly newsletter', recipient: '+15550003009' }),
        now,
      ),
      null,
    );
    assert.equal(
      filter.verdict(text({ source: 'platform', text: 'Your code is 1234', recipient: '+15550004009' }), now),
      null,
    );
    assert.equal(
      filter.verdict(text({ source: 'smpp', text: 'Your code is 1234', recipient: '+15550004009' }), now)
        ?.rule,
      'velocity',
    );
  }));

test('a refused text is stored as rejected with its rule, audited and announced; nothing is queued', () =>
  withStore((db) => {
    customer(db, 'cus_new', new Date());
    const bus = new PlatformBus();
    const announced: Array<PlatformEvents['message.status']> = [];
    bus.on('message.status', (event) => announced.push(event));
    const input = text({ text: 'verify your account' });
    const id = recordSpamRejection(
      db,
      bus,
      input,
      { rule: 'phishing-phrase', reason: 'r' },
      {
        sourceAddress: '127.0.0.1',
        requestId: 'req-1',
      },
    );
    const row = db.prepare('SELECT status, error_code, done_at FROM messages WHERE id = ?').get(id) as {
      status: string;
      error_code: string;
      done_at: string | null;
    };
    assert.deepEqual(
      { status: row.status, error: row.error_code },
      { status: 'rejected', error: 'spam:phishing-phrase' },
    );
    assert.notEqual(row.done_at, null);
    assert.equal(
      (db.prepare("SELECT COUNT(*) AS n FROM messages WHERE status = 'queued'").get() as { n: number }).n,
      0,
    );
    const audit = db.prepare('SELECT action, target, request_id, customer_id FROM audit_events').all();
    assert.deepEqual(audit, [
      { action: 'spam.blocked', target: id, request_id: 'req-1', customer_id: 'cus_new' },
    ]);
    assert.deepEqual(announced, [{ messageId: id, customerId: 'cus_new', status: 'rejected' }]);
  }));

test('the embedded defaults name at least one of each rule’s inputs, for the scenarios to use', () => {
  assert.ok(EMBEDDED_SPAM_SETTINGS.blockedLinkDomains.length > 0);
  assert.ok(EMBEDDED_SPAM_SETTINGS.phishingPhrases.length > 0);
  assert.ok(EMBEDDED_SPAM_SETTINGS.protectedSenderIds.some((p) => p.customerIds.length === 0));
  assert.ok(EMBEDDED_SPAM_SETTINGS.velocity.maxRecipients >= 2);
});
