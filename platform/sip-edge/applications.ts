/**
 * What the sip-edge needs from the platform's services for the calls it answers itself. The
 * edge runs the media; the services keep the records (see core/voice-apps.ts).
 */

/** A message left on voicemail, as recorded. */
export interface LeftVoicemail {
  customerId: string;
  /** The number that was called. */
  mailbox: string;
  caller: string;
  sipCallId: string;
  durationMs: number;
  /** G.711 μ-law, 8000 bytes per second. */
  audio: Buffer;
}

/**
 * verified: the code was right; wrong: try again; expired: too late; refused: no more tries
 * (too many wrong codes, or the verification is over).
 */
export type CodeCheck = 'verified' | 'wrong' | 'expired' | 'refused';

export interface CallApplications {
  /** Stores a voicemail (then transcribed and texted to the subscriber); returns its id. */
  voicemailLeft(voicemail: LeftVoicemail): string;
  /**
   * Creates a one-time code for the caller and texts it to them; undefined when the caller cannot
   * be texted (a withheld number).
   */
  startVerification(input: {
    customerId: string;
    line: string;
    phone: string;
  }): { id: string; codeLength: number } | undefined;
  checkCode(verificationId: string, code: string): CodeCheck;
}
