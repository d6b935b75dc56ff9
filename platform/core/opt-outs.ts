import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import type { RoleDeps } from '../role';
import type { PlatformEvents } from '../bus';
import type { SmscService } from '../smsc';
import { platformTexter } from './platform-texts';

/**
 * Opt-outs: a person who texts STOP to a customer's number gets no more texts from that customer
 * (campaigns skip them, the API refuses to send to them) until they text START. The stop words
 * are the ones carriers and regulators recognise; the platform confirms either way by text.
 */

const STOP_WORDS = ['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT'];
const START_WORDS = ['START', 'UNSTOP'];

export type OptOutKeyword = 'stop' | 'start';

/** The keyword a whole text is, however it is typed ("stop", " Stop. "), or undefined. */
export function optOutKeyword(text: string): OptOutKeyword | undefined {
  const word = text
    .trim()
    .replace(/[.!]+$/, '')
    .toUpperCase();
  if (STOP_WORDS.includes(word)) return 'stop';
  if (START_WORDS.includes(word)) return 'start';
  return undefined;
}

export { isOptedOut } from '../store/opt-out-list';

/** Records the opt-out; false when the number had already opted out (the first record is kept). */
export function recordOptOut(db: Db, customerId: string, number: string, source: 'sms' | 'api'): boolean {
  return (
    db
      .prepare(
        'INSERT INTO opt_outs (customer_id, number, source, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      )
      .run(customerId, number, source, nowIso()).changes > 0
  );
}

export function removeOptOut(db: Db, customerId: string, number: string): boolean {
  return (
    db.prepare('DELETE FROM opt_outs WHERE customer_id = ? AND number = ?').run(customerId, number).changes >
    0
  );
}

/** Listens for stop and start words texted to any customer's number, and confirms each by text. */
export function startOptOutKeywords(deps: RoleDeps, smsc: SmscService): { stop(): void } {
  const { db, bus } = deps;
  const log = (message: string): void => deps.log('core', message);
  const text = platformTexter(smsc, log);

  const onMessageReceived = (event: PlatformEvents['message.received']): void => {
    try {
      const keyword = optOutKeyword(event.text);
      if (!keyword) return;
      const owner = db.prepare('SELECT customer_id FROM numbers WHERE e164 = ?').get(event.to) as
        { customer_id: string } | undefined;
      if (!owner) {
        log(`${keyword} from ${event.from} to ${event.to}, which no customer owns; ignored`);
        return;
      }
      if (keyword === 'stop') {
        recordOptOut(db, owner.customer_id, event.from, 'sms');
        log(`${event.from} opted out of texts from customer ${owner.customer_id} (texted ${event.to})`);
        text(
          owner.customer_id,
          event.to,
          event.from,
          `You will get no more texts from ${event.to}. Text START to get them again.`,
        );
      } else {
        removeOptOut(db, owner.customer_id, event.from);
        log(`${event.from} opted back in to texts from customer ${owner.customer_id}`);
        text(
          owner.customer_id,
          event.to,
          event.from,
          `You will get texts from ${event.to} again. Text STOP to stop them.`,
        );
      }
    } catch (error) {
      log(`opt-out keyword from ${event.from} failed: ${(error as Error).stack ?? String(error)}`);
    }
  };

  bus.on('message.received', onMessageReceived);
  return { stop: () => bus.off('message.received', onMessageReceived) };
}
