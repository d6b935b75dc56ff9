import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, nowIso, type Db } from '../../platform/store/store';
import { embeddedDefaults } from '../../platform/config';
import { PlatformBus } from '../../platform/bus';
import { MessageStore } from '../../platform/smsc/message-store';
import type { AcceptMessageInput, AcceptedMessage, SmscService } from '../../platform/smsc';
import { startCampaignRunner } from '../../platform/core/campaign-runner';

const RATE = 20;
const INTERVAL_MS = 1000 / RATE;
const TICK_MS = 10;
/** How long the SMSC holds the first text back (a busy process, a retry): several intervals. */
const HOLD_MS = 3 * INTERVAL_MS;

/** A running campaign of `contacts` numbers at RATE texts a second, written as the API would. */
function runningCampaign(db: Db, contacts: number): string {
  const at = nowIso();
  db.prepare(
    "INSERT INTO customers (id, name, tier, created_at) VALUES ('cus_1', 'Shop', 'api-only', ?)",
  ).run(at);
  db.prepare(
    "INSERT INTO templates (id, customer_id, name, body, created_at, updated_at) VALUES ('tpl_1', 'cus_1', 'hi', 'Hi {{name}}', ?, ?)",
  ).run(at, at);
  db.prepare(
    `INSERT INTO contact_lists (id, customer_id, name, columns, rejected_rows, created_at)
     VALUES ('lst_1', 'cus_1', 'people', '["number","name"]', '[]', ?)`,
  ).run(at);
  db.prepare(
    `INSERT INTO campaigns (id, customer_id, name, sender, template_id, contact_list_id, rate_per_second,
       status, started_at, next_send_at, created_at, updated_at)
     VALUES ('cmp_1', 'cus_1', 'Sale', '+15550000000', 'tpl_1', 'lst_1', ?, 'running', ?, ?, ?, ?)`,
  ).run(RATE, at, Date.now(), at, at);
  for (let line = 2; line < contacts + 2; line += 1)
    db.prepare(
      "INSERT INTO campaign_contacts (campaign_id, line, number, fields, state) VALUES ('cmp_1', ?, ?, ?, 'pending')",
    ).run(line, `+4477009000${line}`, JSON.stringify({ number: `+4477009000${line}`, name: `P${line}` }));
  return 'cmp_1';
}

/**
 * An SMSC that queues each text and lets it leave later: the first after HOLD_MS, the others
 * at once. It records when each text was handed over and when it left (reached the network).
 */
function slowFirstSmsc(db: Db, expected: number) {
  const store = new MessageStore(db);
  const texts: Array<{ handedAt: number; leftAt?: number }> = [];
  let allLeft: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allLeft = resolve));
  const acceptMessage = (input: AcceptMessageInput): AcceptedMessage => {
    const id = `msg_${texts.length + 1}`;
    const acceptedAt = nowIso();
    store.insert({
      id,
      customer_id: input.customerId,
      source: input.source,
      sender: input.sender,
      recipient: input.recipient,
      text: input.text,
      encoding: 'gsm7',
      parts: 1,
      status: 'queued',
      carrier_message_ids: '[null]',
      part_states: '[null]',
      registered_delivery: 1,
      accepted_at: acceptedAt,
    });
    const text: { handedAt: number; leftAt?: number } = { handedAt: Date.now() };
    texts.push(text);
    setTimeout(
      () => {
        text.leftAt = Date.now();
        store.markSent(id, new Date(text.leftAt).toISOString());
        if (texts.filter((t) => t.leftAt !== undefined).length === expected) allLeft();
      },
      texts.length === 1 ? HOLD_MS : 0,
    );
    return { id, status: 'queued', encoding: 'gsm7', parts: 1, acceptedAt };
  };
  // The runner only hands texts over; the rest of the SMSC is not needed here.
  const smsc = { acceptMessage } as unknown as SmscService;
  return { smsc, texts, done };
}

test('a text the SMSC holds back is not followed by the next one sooner than the rate allows', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'campaign-runner-'));
  const config = embeddedDefaults({ storeFile: join(dir, 'platform.db'), adminApiKey: 'admin' });
  config.campaigns.tickMs = TICK_MS;
  const db = openStore(config.store.file);
  const contacts = 4;
  runningCampaign(db, contacts);
  const { smsc, texts, done } = slowFirstSmsc(db, contacts);
  const log: string[] = [];
  const runner = startCampaignRunner(
    { config, db, bus: new PlatformBus(), log: (_, m) => log.push(m) },
    smsc,
  );
  try {
    const boundMs = 20 * INTERVAL_MS + HOLD_MS;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `${contacts} campaign texts to leave the SMSC within ${boundMs} ms; got ` +
                  `${JSON.stringify(texts)}; runner log: ${log.join(' | ')}`,
              ),
            ),
          boundMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    for (let k = 1; k < texts.length; k += 1) {
      const [previous, next] = [texts[k - 1], texts[k]];
      assert.ok(previous?.leftAt !== undefined && next?.leftAt !== undefined);
      assert.ok(
        next.handedAt >= previous.leftAt,
        `text ${k + 1} was handed over (${next.handedAt}) while text ${k} was still in the SMSC (left ${previous.leftAt})`,
      );
      assert.ok(
        next.leftAt - previous.leftAt >= INTERVAL_MS,
        `ms between texts ${k} and ${k + 1} leaving the SMSC: ${next.leftAt - previous.leftAt}, at ${RATE}/s at least ${INTERVAL_MS}`,
      );
    }
  } finally {
    runner.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a campaign whose text breaks a spam rule hands nothing to the SMSC: each contact fails, recorded as rejected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'campaign-runner-'));
  const config = embeddedDefaults({ storeFile: join(dir, 'platform.db'), adminApiKey: 'admin' });
  config.campaigns.tickMs = TICK_MS;
  const db = openStore(config.store.file);
  runningCampaign(db, 2);
  const phrase = config.security.spam.phishingPhrases[0] ?? 'no phrase configured';
  db.prepare("UPDATE templates SET body = ? WHERE id = 'tpl_1'").run(`Hi {{name}}, please ${phrase}`);
  const handed: AcceptMessageInput[] = [];
  const smsc = {
    acceptMessage: (input: AcceptMessageInput) => {
      handed.push(input);
      throw new Error('the SMSC was handed a text the spam filter should have refused');
    },
  } as unknown as SmscService;
  const bus = new PlatformBus();
  const rejected: string[] = [];
  bus.on('message.status', (e) => rejected.push(e.status));
  const runner = startCampaignRunner({ config, db, bus, log: () => undefined }, smsc);
  const contactStates = () =>
    db
      .prepare(
        "SELECT state, error, message_id FROM campaign_contacts WHERE campaign_id = 'cmp_1' ORDER BY line",
      )
      .all() as Array<{
      state: string;
      error: string | null;
      message_id: string | null;
    }>;
  try {
    const deadline = Date.now() + 2_000;
    while (contactStates().some((c) => c.state === 'pending') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    const states = contactStates();
    assert.deepEqual(
      states.map((c) => c.state),
      ['failed', 'failed'],
      JSON.stringify(states),
    );
    assert.ok(
      states.every((c) => /rule phishing-phrase/.test(c.error ?? '')),
      JSON.stringify(states),
    );
    for (const c of states)
      assert.deepEqual(db.prepare('SELECT status, error_code FROM messages WHERE id = ?').get(c.message_id), {
        status: 'rejected',
        error_code: 'spam:phishing-phrase',
      });
    assert.deepEqual(handed, []);
    assert.deepEqual(rejected, ['rejected', 'rejected']);
    // Each refusal is audited as the customer's, naming the campaign and the rule.
    const audited = db
      .prepare(
        "SELECT actor_kind, customer_id, target, detail FROM audit_events WHERE action = 'spam.blocked' ORDER BY seq",
      )
      .all() as Array<{ actor_kind: string; customer_id: string; target: string; detail: string }>;
    assert.deepEqual(
      audited.map((a) => {
        const detail = JSON.parse(a.detail) as { rule: string; campaignId: string };
        return [a.actor_kind, a.target, detail.rule, detail.campaignId];
      }),
      states.map((c) => ['customer', c.message_id, 'phishing-phrase', 'cmp_1']),
    );
  } finally {
    runner.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
