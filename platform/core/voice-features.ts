/**
 * Features where voice and SMS meet, driven by the bus like any other service of the platform:
 * a missed call is reported to the subscriber's mobile by SMS; a subscriber's texts to their own
 * number are commands (FORWARD +number, FORWARD OFF) answered by SMS; CALL ME texted to a
 * callback number gets the sender called back and connected to the customer's agent.
 */
import type { PlatformEvents } from '../bus';
import { findCdr, type CdrResource } from './resources';
import type { NumberRow as NumberRecord, SipAccountRow } from '../store/rows';
import type { RoleDeps } from '../role';
import type { SmscService } from '../smsc';
import type { CallbackOutcome, CallbackRequest } from '../contracts';
import { platformTexter } from './platform-texts';
import { optOutKeyword } from './opt-outs';
import { E164 } from '../phone-numbers';

export interface VoiceFeatures {
  stop(): void;
}

/** The subscriber text a missed call produces; the time is the call's start, in UTC. */
export function missedCallText(caller: string, startedAt: string): string {
  const at = new Date(startedAt);
  const time = at.toISOString().slice(11, 16);
  const day = at.toISOString().slice(0, 10);
  const who = E164.test(caller) ? caller : 'a withheld number';
  return `Missed call from ${who} at ${time} UTC on ${day}.`;
}

export type SubscriberCommand =
  | { kind: 'forward'; target: string }
  | { kind: 'forward-off' }
  | { kind: 'invalid-forward'; argument: string }
  | { kind: 'unknown' };

/** Reads a subscriber's text as a command: keywords are case-insensitive, spaces are free. */
export function parseSubscriberCommand(text: string): SubscriberCommand {
  const words = text.trim().split(/\s+/);
  if ((words[0] ?? '').toUpperCase() !== 'FORWARD') return { kind: 'unknown' };
  const argument = words.slice(1).join(' ');
  if (argument.toUpperCase() === 'OFF') return { kind: 'forward-off' };
  const target = argument.replace(/[\s().-]/g, '');
  return E164.test(target) ? { kind: 'forward', target } : { kind: 'invalid-forward', argument };
}

/** The keyword that asks for a call back, however it is typed ("call me", "Call  Me"). */
export function isCallMe(text: string): boolean {
  return text.trim().replace(/\s+/g, ' ').toUpperCase() === 'CALL ME';
}

export function startVoiceFeatures(
  deps: RoleDeps,
  smsc: SmscService,
  sip: { callback(request: CallbackRequest): Promise<CallbackOutcome> },
): VoiceFeatures {
  const { db, bus } = deps;
  const log = (message: string): void => deps.log('core', message);

  const text = platformTexter(smsc, log);

  const accountByNumber = (customerId: string, number: string): SipAccountRow | undefined =>
    db
      .prepare('SELECT * FROM sip_accounts WHERE customer_id = ? AND number = ? ORDER BY created_at LIMIT 1')
      .get(customerId, number) as SipAccountRow | undefined;

  const onCallCompleted = (event: PlatformEvents['call.completed']): void => {
    safely(() => {
      const cdr = findCdr(db, event.customerId, event.cdrId);
      if (!cdr || !isMissed(cdr)) return;
      const account = accountByNumber(event.customerId, cdr.callee);
      if (!account || account.missed_call_sms !== 1 || account.mobile === null) return;
      text(event.customerId, account.number, account.mobile, missedCallText(cdr.caller, cdr.startedAt));
    }, `missed-call text for ${event.cdrId}`);
  };

  /** A text to a callback number: CALL ME gets a call back from the number's agent, anything else help. */
  const onCallbackText = (event: PlatformEvents['message.received'], line: NumberRecord): void => {
    const reply = (body: string): void => text(line.customer_id, line.e164, event.from, body);
    if (!isCallMe(event.text)) return reply('To be called back, text CALL ME to this number.');
    if (!E164.test(event.from)) {
      log(`callback asked by ${event.from}, which is not a number that can be called; ignored`);
      return;
    }
    const agent = line.callback_agent ?? '';
    // A short code cannot be shown as a caller ID: the agent's own number is shown instead.
    const presented = E164.test(line.e164) ? line.e164 : (accountNumber(agent) ?? line.e164);
    sip
      .callback({ customerId: line.customer_id, number: event.from, agent, presented })
      .then((outcome) => {
        log(`callback of ${event.from} by ${agent}: ${outcome}`);
        if (outcome === 'calling') return reply(`We are calling you back now from ${presented}.`);
        reply('Sorry, nobody can take your call right now. Please text CALL ME again later.');
      })
      .catch((error: unknown) =>
        log(`callback of ${event.from} failed: ${(error as Error).stack ?? String(error)}`),
      );
  };

  const accountNumber = (username: string): string | undefined =>
    (
      db.prepare('SELECT number FROM sip_accounts WHERE username = ?').get(username) as
        { number: string } | undefined
    )?.number;

  const onMessageReceived = (event: PlatformEvents['message.received']): void => {
    // Stop and start words belong to the opt-out handling, whoever's number they are sent to.
    if (optOutKeyword(event.text)) return;
    safely(() => {
      const line = db.prepare('SELECT * FROM numbers WHERE e164 = ?').get(event.to) as
        NumberRecord | undefined;
      if (line?.voice_service === 'callback') return onCallbackText(event, line);
      // Only the subscriber's own mobile may command their number: anyone else is not answered.
      const account = db
        .prepare('SELECT * FROM sip_accounts WHERE number = ? AND mobile = ? ORDER BY created_at LIMIT 1')
        .get(event.to, event.from) as SipAccountRow | undefined;
      if (!account) {
        log(`text from ${event.from} to ${event.to}: no subscriber of that number has that mobile; ignored`);
        return;
      }
      const command = parseSubscriberCommand(event.text);
      const reply = (body: string): void => text(account.customer_id, account.number, event.from, body);
      switch (command.kind) {
        case 'forward':
          db.prepare('UPDATE sip_accounts SET forward_to = ? WHERE username = ?').run(
            command.target,
            account.username,
          );
          return reply(
            `Calls to ${account.number} now ring ${command.target}. Text FORWARD OFF to stop forwarding.`,
          );
        case 'forward-off':
          db.prepare('UPDATE sip_accounts SET forward_to = NULL WHERE username = ?').run(account.username);
          return reply(`Forwarding is off: calls to ${account.number} ring your phone again.`);
        case 'invalid-forward':
          return reply(
            `Forwarding not changed: "${command.argument}" is not a phone number. Text FORWARD followed by a number in international format (FORWARD +441632960001), or FORWARD OFF.`,
          );
        case 'unknown':
          return reply('Commands: FORWARD +<number> to forward your calls, FORWARD OFF to stop.');
      }
    }, `text from ${event.from} to ${event.to}`);
  };

  /** A bus listener must never throw into the role that emitted the event. */
  function safely(work: () => void, what: string): void {
    try {
      work();
    } catch (error) {
      log(`${what} failed: ${(error as Error).stack ?? String(error)}`);
    }
  }

  bus.on('call.completed', onCallCompleted);
  bus.on('message.received', onMessageReceived);
  return {
    stop() {
      bus.off('call.completed', onCallCompleted);
      bus.off('message.received', onMessageReceived);
    },
  };
}

/** Rang out unanswered, could not reach the phone, or the caller gave up first; a forwarded call reached someone, so it is not missed. */
function isMissed(cdr: CdrResource): boolean {
  return (cdr.disposition === 'no-answer' || cdr.disposition === 'cancelled') && cdr.forwardedTo === null;
}
