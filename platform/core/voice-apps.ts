/**
 * The business side of the calls the platform answers itself. The sip-edge runs the media
 * (prompts, recording, keys pressed); this service keeps the records and talks to the rest of
 * the platform: voicemails are stored, transcribed by the speech-to-text provider and texted to
 * the subscriber; verification codes are created, texted to the caller and checked.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { RoleDeps } from '../role';
import type { SmscService } from '../smsc';
import { mulawWav } from '../media-relay/media-app';
import type { CallApplications, CodeCheck, LeftVoicemail } from '../contracts';
import { nowIso } from '../store/store';
import type { SipAccountRow, VerificationRow } from '../store/rows';
import { platformTexter } from './platform-texts';
import { E164 } from '../phone-numbers';

const CODE_DIGITS = 6;

export interface RunningCallApplications extends CallApplications {
  /** Resolves when every transcription in flight has settled (platform stop). */
  stop(): Promise<void>;
}

export function startCallApplications(deps: RoleDeps, smsc: SmscService): RunningCallApplications {
  const { db, config } = deps;
  const log = (message: string): void => deps.log('core', message);
  const inFlight = new Set<Promise<void>>();
  let stopped = false;

  const text = platformTexter(smsc, log);

  const seconds = (ms: number): string => `${Math.max(1, Math.round(ms / 1000))} s`;

  /** Sends the recording to the provider; the transcript (or its absence) is stored and texted. */
  async function transcribe(id: string, left: LeftVoicemail): Promise<void> {
    const url = config.providers.speechToTextUrl;
    let transcript: string | null = null;
    let status = 'unavailable';
    if (url !== null) {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'audio/wav', 'x-voicemail-id': id },
          body: mulawWav(left.audio),
          signal: AbortSignal.timeout(config.providers.timeoutMs),
        });
        const body = (await response.json()) as { text?: unknown };
        if (!response.ok || typeof body.text !== 'string')
          throw new Error(`provider answered ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
        transcript = body.text;
        status = 'done';
      } catch (error) {
        status = 'failed';
        log(`voicemail ${id}: transcription failed: ${(error as Error).message}`);
      }
    }
    if (stopped) return;
    db.prepare('UPDATE voicemails SET transcript = ?, transcription_status = ? WHERE id = ?').run(
      transcript,
      status,
      id,
    );
    const account = db
      .prepare('SELECT * FROM sip_accounts WHERE customer_id = ? AND number = ? ORDER BY created_at LIMIT 1')
      .get(left.customerId, left.mailbox) as SipAccountRow | undefined;
    if (!account?.mobile) return;
    const from = E164.test(left.caller) ? left.caller : 'a withheld number';
    const heading = `Voicemail from ${from} (${seconds(left.durationMs)})`;
    text(
      left.customerId,
      left.mailbox,
      account.mobile,
      transcript !== null ? `${heading}: ${transcript}` : `${heading}. No transcript is available.`,
    );
  }

  return {
    voicemailLeft(left) {
      const id = `vm_${randomBytes(8).toString('hex')}`;
      db.prepare(
        `INSERT INTO voicemails (id, customer_id, mailbox, caller, sip_call_id, received_at, duration_ms, audio, transcript, transcription_status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 'pending')`,
      ).run(
        id,
        left.customerId,
        left.mailbox,
        left.caller,
        left.sipCallId,
        nowIso(),
        left.durationMs,
        left.audio,
      );
      log(`voicemail ${id} for ${left.mailbox} from ${left.caller}: ${left.durationMs} ms`);
      const work = transcribe(id, left)
        .catch((error: unknown) => log(`voicemail ${id}: ${(error as Error).stack ?? String(error)}`))
        .finally(() => inFlight.delete(work));
      inFlight.add(work);
      return id;
    },

    startVerification({ customerId, line, phone }) {
      if (!E164.test(phone)) return undefined; // a withheld caller cannot be texted a code
      const setting = db.prepare('SELECT code_ttl_seconds FROM numbers WHERE e164 = ?').get(line) as
        { code_ttl_seconds: number | null } | undefined;
      const ttlMs = setting?.code_ttl_seconds
        ? setting.code_ttl_seconds * 1000
        : config.voice.verificationCodeTtlMs;
      const row: VerificationRow = {
        id: `ver_${randomBytes(8).toString('hex')}`,
        created_at: nowIso(),
        verified_at: null,
        customer_id: customerId,
        line,
        phone,
        code: Array.from({ length: CODE_DIGITS }, () => String(randomInt(0, 10))).join(''),
        status: 'pending',
        attempts: 0,
        max_attempts: config.voice.verificationMaxAttempts,
        expires_at: new Date(Date.now() + ttlMs).toISOString(),
      };
      db.prepare(
        `INSERT INTO verifications (id, customer_id, line, phone, code, status, attempts, max_attempts, created_at, expires_at)
         VALUES (@id, @customer_id, @line, @phone, @code, @status, @attempts, @max_attempts, @created_at, @expires_at)`,
      ).run(row);
      text(
        customerId,
        line,
        phone,
        `Your verification code is ${row.code}. Key it in on the call now; it expires in ${seconds(ttlMs)}.`,
      );
      return { id: row.id, codeLength: CODE_DIGITS };
    },

    checkCode(id, code): CodeCheck {
      const row = db.prepare('SELECT * FROM verifications WHERE id = ?').get(id) as
        VerificationRow | undefined;
      if (!row || row.status !== 'pending') return 'refused';
      if (Date.parse(row.expires_at) <= Date.now()) return 'expired';
      if (code === row.code) {
        db.prepare("UPDATE verifications SET status = 'verified', verified_at = ? WHERE id = ?").run(
          nowIso(),
          id,
        );
        return 'verified';
      }
      const attempts = row.attempts + 1;
      const failed = attempts >= row.max_attempts;
      db.prepare('UPDATE verifications SET attempts = ?, status = ? WHERE id = ?').run(
        attempts,
        failed ? 'failed' : 'pending',
        id,
      );
      return failed ? 'refused' : 'wrong';
    },

    async stop() {
      await Promise.all([...inFlight]);
      stopped = true;
    },
  };
}
