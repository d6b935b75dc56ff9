import type {
  BodyAndContentType,
  Session,
  SessionDescriptionHandler,
  SessionDescriptionHandlerFactory,
  SessionDescriptionHandlerOptions,
} from 'sip.js';
import { traffic } from '../traffic-log';
import { RtpSession } from './rtp';
import {
  answerDirection,
  buildAudioSdp,
  mayEmit,
  offersPcmu,
  parseAudioSdp,
  type AudioDescription,
  type MediaDirection,
} from './sdp';

/**
 * A sip.js SessionDescriptionHandler for Node: plain RTP/AVP PCMU from a UDP socket (no WebRTC).
 * The socket is bound before the first description is written, and media starts once both
 * sides' descriptions are known. `hold: true` in the handler options offers sendonly.
 */

export type PhoneMedia = 'tone' | 'echo';

export interface PlainRtpOptions {
  actor: string;
  peerActor?: string;
  media?: PhoneMedia;
  toneHz?: number;
}

/** sip.js passes these through from Session.invite / Invitation.accept options. */
export interface PlainRtpDescriptionOptions extends SessionDescriptionHandlerOptions {
  hold?: boolean;
}

const SDP = 'application/sdp';

export class PlainRtpSessionDescriptionHandler implements SessionDescriptionHandler {
  readonly rtp: RtpSession;
  private readonly actor: string;
  private readonly sessionId = String(Math.floor(Math.random() * 1e9));
  private sessionVersion = 0;
  private local: AudioDescription | null = null;
  private remote: AudioDescription | null = null;
  /** Offer/answer state (RFC 3264): whose offer is outstanding. */
  private pendingLocalOffer: AudioDescription | null = null;
  private pendingRemoteOffer: AudioDescription | null = null;
  private previous: { local: AudioDescription | null; remote: AudioDescription | null } | null = null;
  private closed = false;

  constructor(options: PlainRtpOptions) {
    this.actor = options.actor;
    this.rtp = new RtpSession({
      actor: options.actor,
      peerActor: options.peerActor,
      toneHz: options.toneHz,
      echo: options.media === 'echo',
    });
  }

  get localDescription(): AudioDescription | null {
    return this.local;
  }

  get remoteDescription(): AudioDescription | null {
    return this.remote;
  }

  hasDescription(contentType: string): boolean {
    return contentType.split(';')[0].trim().toLowerCase() === SDP;
  }

  async getDescription(options?: PlainRtpDescriptionOptions): Promise<BodyAndContentType> {
    if (this.closed) throw new Error(`${this.actor}: media session already closed, cannot describe it`);
    await this.rtp.ready;
    const wanted: MediaDirection = options?.hold ? 'sendonly' : 'sendrecv';
    const offer = this.pendingRemoteOffer;
    const direction = offer ? answerDirection(offer.direction, wanted) : wanted;
    this.sessionVersion += 1;
    const { host, port } = this.rtp.localAddress;
    const body = buildAudioSdp({
      address: host,
      port,
      direction,
      sessionId: this.sessionId,
      sessionVersion: this.sessionVersion,
    });
    const description = parseAudioSdp(body);
    this.previous = { local: this.local, remote: this.remote };
    this.local = description;
    if (offer) {
      this.remote = offer;
      this.pendingRemoteOffer = null;
      this.applyNegotiated();
    } else {
      this.pendingLocalOffer = description;
    }
    return { body, contentType: SDP };
  }

  async setDescription(sdp: string): Promise<void> {
    if (this.closed)
      throw new Error(`${this.actor}: media session already closed, cannot take a remote description`);
    // Parse errors reject: sip.js then answers 488 / ends the call, and the error is logged.
    const description = parseAudioSdp(sdp);
    if (!offersPcmu(description))
      throw new Error(
        `${this.actor}: remote SDP offers no PCMU (payload types ${description.payloadTypes.join(' ')})`,
      );
    await this.rtp.ready;
    if (this.pendingLocalOffer) {
      this.previous = { local: this.local, remote: this.remote };
      this.remote = description;
      this.pendingLocalOffer = null;
      this.applyNegotiated();
    } else {
      this.pendingRemoteOffer = description;
    }
  }

  async rollbackDescription(): Promise<void> {
    this.pendingLocalOffer = null;
    this.pendingRemoteOffer = null;
    if (this.previous) {
      this.local = this.previous.local;
      this.remote = this.previous.remote;
      this.previous = null;
      this.applyNegotiated();
    }
  }

  sendDtmf(tones: string, options?: unknown): boolean {
    if (this.closed || !this.remote) return false;
    const durationMs =
      typeof options === 'object' && options !== null && 'duration' in options
        ? Number((options as { duration: unknown }).duration)
        : undefined;
    this.rtp.sendDtmf(tones, { durationMs }).catch((error: unknown) => {
      traffic.record({
        protocol: 'RTP',
        from: this.actor,
        to: 'remote RTP',
        summary: `DTMF "${tones}" failed: ${(error as Error).message}`,
      });
    });
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // sip.js's close() is synchronous; RtpSession.close() does not reject and records its own summary.
    void this.rtp.close();
  }

  /** Points RTP at the negotiated remote address and starts or stops sending per directions. */
  private applyNegotiated(): void {
    const local = this.local;
    const remote = this.remote;
    if (!local || !remote || this.closed) return;
    if (remote.telephoneEventPayloadType !== null)
      this.rtp.setTelephoneEventPayloadType(remote.telephoneEventPayloadType);
    if (remote.port === 0 || remote.connectionAddress === '0.0.0.0') {
      this.rtp.stopSending();
      return;
    }
    this.rtp.setRemote(remote.connectionAddress, remote.port);
    if (mayEmit(local.direction, remote.direction)) this.rtp.startSending();
    else this.rtp.stopSending();
  }
}

export interface PlainRtpSdhFactory extends SessionDescriptionHandlerFactory {
  /** The handler (and so the RtpSession) sip.js created for a session, once it did. */
  handlerFor(session: Session): PlainRtpSessionDescriptionHandler | undefined;
}

export function plainRtpSdhFactory(options: PlainRtpOptions): PlainRtpSdhFactory {
  const handlers = new WeakMap<Session, PlainRtpSessionDescriptionHandler>();
  const factory = (session: Session): PlainRtpSessionDescriptionHandler => {
    const handler = new PlainRtpSessionDescriptionHandler(options);
    handlers.set(session, handler);
    return handler;
  };
  return Object.assign(factory, { handlerFor: (session: Session) => handlers.get(session) });
}
