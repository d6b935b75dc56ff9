/**
 * The contracts between roles: what the API (core) may ask of the sip-edge about calls in
 * progress and call-backs, and what the sip-edge asks of the platform's services for the calls it
 * answers itself (voicemail, verification). Neither role imports the other; both import this.
 */

/** A call in progress as the API shows it. */
export interface LiveCallResource {
  id: string;
  sipCallId: string;
  direction: string;
  caller: string;
  callee: string;
  trunkId: string | null;
  state: 'ringing' | 'answered';
  held: boolean;
  startedAt: string;
  answeredAt: string | null;
}

/** What the API may do to calls in progress (the sip-edge implements it). */
export interface LiveCallControl {
  list(customerId: string): LiveCallResource[];
  /** Hangs up both legs (BYE once answered, else the caller gets 480); false when no such live call. */
  hangup(customerId: string, callId: string): boolean;
  /** Stops (held) or restarts media both ways at the relay; undefined when no such answered call. */
  setHeld(customerId: string, callId: string, held: boolean): LiveCallResource | undefined;
  /** Blind transfer: the customer's party is released and the other party is connected to `target`. */
  transfer(
    customerId: string,
    callId: string,
    target: string,
  ): Promise<'transferred' | 'no-such-call' | 'no-route'>;
}

export interface CallbackRequest {
  customerId: string;
  /** The outside party, called first over the customer's trunk. */
  number: string;
  /** The customer's agent (a SIP username), called once the outside party answers. */
  agent: string;
  /** The customer's number shown to the outside party. */
  presented: string;
}

export type CallbackOutcome = 'calling' | 'no-route' | 'agent-unavailable';

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
