/**
 * The traffic ledger behind the ">99 % end-to-end" metric: every call, text and API request the
 * suite attempted, and how it ended end to end. Drivers open an attempt when they start one and
 * settle it when they know its end; an After hook drains the ledger into the scenario's metrics
 * (one `attempt` metric each), and the run summary counts them, de-duplicated by key (a Call-ID,
 * a message id, a request id) so an attempt seen twice counts once.
 *
 * Outcomes: `succeeded` and `failed` count; `refused-as-expected` (a negative test's refusal, a
 * busy line) is excluded from the ratio but still listed.
 */

export type AttemptChannel = 'call' | 'text' | 'request';
export type AttemptOutcome = 'succeeded' | 'failed' | 'refused-as-expected';

export interface Attempt {
  channel: AttemptChannel;
  /** The attempt's identity on the wire: Call-ID, message id, request id. */
  key: string;
  /** What it was, for people: `POST /v1/messages`, `text to +447700900123`. */
  name: string;
  outcome: AttemptOutcome;
  /** Why it failed (or was refused), when it did. */
  why?: string;
}

/** An attempt still in flight: settled by its driver, or at scenario end by `settleOpen`. */
export interface OpenAttempt {
  channel: AttemptChannel;
  key: string;
  name: string;
  /** What a text was meant to be: its recipient and its exact text (settled from the handset). */
  text?: { to: string; text: string };
  /** How the attempt ended, asked of its driver at scenario end (a call knows its own story). */
  judge?: () => EndOfAttempt;
}

/** How an open attempt ended, as seen at scenario end; undefined: not observable here (not counted). */
export type EndOfAttempt = Pick<Attempt, 'outcome' | 'why'> | undefined;

/** Answered this long, a call must have carried the far end's audio (50 packets of 20 ms by then). */
const AUDIO_JUDGED_AFTER_MS = 1000;

/** What a calling driver knows of its call at scenario end. */
export interface CallStory {
  /** Who placed it, as the failure names them. */
  actor: string;
  answeredAt?: number;
  endedAt?: number;
  /** RTP packets the caller received from the far end. */
  received: number;
  finalStatus?: number;
  finalReason?: string;
  /** The caller gave up (CANCEL) before an answer. */
  givenUp: boolean;
}

/**
 * A call as an end-to-end attempt: answered with the far end's audio reaching the caller
 * succeeded (a call hung up right after the answer is set up end to end but too short to judge
 * audio); a 5xx, or an answer without audio, failed; a busy, declined or given-up call is the
 * network's faithful answer (the steps judge whether it was expected); a call still ringing when
 * the scenario ended is not judged.
 */
export function judgeCall(call: CallStory): EndOfAttempt {
  if (call.answeredAt !== undefined) {
    const answeredMs = (call.endedAt ?? Date.now()) - call.answeredAt;
    return call.received > 0 || answeredMs < AUDIO_JUDGED_AFTER_MS
      ? { outcome: 'succeeded' }
      : { outcome: 'failed', why: `answered for ${answeredMs} ms, but no audio reached ${call.actor}` };
  }
  const status = call.finalStatus;
  if (status !== undefined && status >= 500 && status < 600)
    return { outcome: 'failed', why: `answered ${status} ${call.finalReason ?? ''}`.trim() };
  if (status !== undefined && status >= 300)
    return { outcome: 'refused-as-expected', why: `answered ${status}` };
  if (call.givenUp) return { outcome: 'refused-as-expected', why: 'given up by the caller' };
  return undefined;
}

class AttemptLedger {
  private readonly open = new Map<string, OpenAttempt>();
  private settled: Attempt[] = [];
  private readonly refusalsExpected = new Set<string>();

  /**
   * A task that set the far end up to refuse (a line out of service, a busy line) says so: that
   * attempt's refusal is then expected, and its success would be the failure.
   */
  expectRefusal(channel: AttemptChannel, key: string): void {
    this.refusalsExpected.add(`${channel}:${key}`);
  }

  private record(attempt: Attempt): void {
    const id = `${attempt.channel}:${attempt.key}`;
    if (this.refusalsExpected.delete(id)) {
      const refused = attempt.outcome !== 'succeeded';
      this.settled.push({
        ...attempt,
        outcome: refused ? 'refused-as-expected' : 'failed',
        why: refused ? attempt.why : 'went through where a refusal was expected',
      });
    } else this.settled.push(attempt);
  }

  /** Starts an attempt; one already open under the same channel and key is kept. */
  begin(attempt: OpenAttempt): void {
    const id = `${attempt.channel}:${attempt.key}`;
    if (!this.open.has(id)) this.open.set(id, attempt);
  }

  /** Ends an attempt with its outcome (opened or not: a request is begun and settled at once). */
  settle(channel: AttemptChannel, key: string, name: string, outcome: AttemptOutcome, why?: string): void {
    this.open.delete(`${channel}:${key}`);
    this.record({ channel, key, name, outcome, ...(why === undefined ? {} : { why }) });
  }

  /**
   * Settles the open attempts of a channel by what the suite observed at scenario end (before
   * cleanup forgets it): `judge` returns the outcome, or undefined when this process cannot see it.
   */
  settleOpen(channel: AttemptChannel, judge: (attempt: OpenAttempt) => EndOfAttempt): void {
    for (const [id, attempt] of [...this.open]) {
      if (attempt.channel !== channel) continue;
      this.open.delete(id);
      const end = judge(attempt);
      if (end) this.record({ channel, key: attempt.key, name: attempt.name, ...end });
    }
  }

  /** Everything attempted since the last drain; an attempt still open never completed. */
  drain(): Attempt[] {
    for (const attempt of this.open.values())
      this.record({
        channel: attempt.channel,
        key: attempt.key,
        name: attempt.name,
        outcome: 'failed',
        why: 'never completed',
      });
    this.open.clear();
    this.refusalsExpected.clear();
    const drained = this.settled;
    this.settled = [];
    return drained;
  }
}

/** One ledger per process (a Cucumber worker runs one scenario at a time). */
export const attempts = new AttemptLedger();
