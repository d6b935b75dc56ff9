/**
 * Configuration of the reference platform. Every timer is configurable so the embedded
 * target can run with short business durations; ports of 0 mean "pick an ephemeral port".
 */
import { EMBEDDED_IDENTITY_SETTINGS, type IdentitySettings } from './core/identity';
import { EMBEDDED_SIP_FRAUD, type SipFraudSettings } from './sip-edge/security';
import { EMBEDDED_SPAM_SETTINGS, type SpamSettings } from './smsc/spam-filter';
import { EMBEDDED_LIMITS, type LimitSettings } from './core/customer-quotas';

export interface PlatformConfig {
  /** Address every listener binds to. Loopback only (non-negotiable 9). */
  host: string;
  sip: {
    udpPort: number;
    wsPort: number;
    /** SIP domain and digest realm. */
    domain: string;
    /** Lifetime of a digest nonce; a REGISTER with an older nonce is challenged again (stale=true). */
    nonceTtlMs: number;
    /** How long an unanswered call rings before the platform gives up (CDR disposition no-answer). */
    noAnswerTimeoutMs: number;
    /** Registration expiry granted when the phone asks for none. */
    defaultExpiresSeconds: number;
    /** Shortest registration a phone may ask for: a shorter request is raised to it (Kamailio's min_expires). */
    minExpiresSeconds: number;
    /** Longest registration granted: a longer request is cut to it (Kamailio's max_expires). */
    maxExpiresSeconds: number;
    /**
     * RFC 3261 T1, the round-trip estimate: UDP retransmissions start at T1 and double, and every
     * transaction times out after 64·T1 (an unanswered INVITE → 408, an unACKed 2xx → BYE).
     */
    t1Ms: number;
    /** RFC 3261 T2: the longest interval between retransmissions of non-INVITE requests and INVITE finals. */
    t2Ms: number;
    /** RFC 3261 T4: how long a message may linger in the network (Timer K). */
    t4Ms: number;
    /**
     * Redundant topology only: the loopback port on which the active sip node takes live-call
     * commands from API nodes (0 = not served: in one process the API calls the edge directly).
     */
    controlPort: number;
    /**
     * Secret of the digest nonces (random per node when unset). An active-active edge sets one for
     * all its nodes, so a challenge from one node is answered to another (Kamailio's auth `secret`).
     */
    nonceSecret?: string;
    /**
     * SIP proxies in front of the edge (Kamailio in the lab lane), by the address and UDP port
     * they send from. Only for a request from one of these does the edge take the source the
     * proxy recorded in the Via below its own (received/rport) as the sender's true address,
     * which is what trunks are recognised by; from anyone else the Vias are never believed.
     */
    trustedProxies?: Array<{ host: string; port: number }>;
  };
  media: {
    /** UDP port of the relay's rtpengine "ng" control protocol (0: ephemeral; the relay logs it). */
    ngPort: number;
    /**
     * A media relay the platform does not run (a real rtpengine's ng listener). When set, no
     * relay of the platform's own starts (nor the cluster's media role), and the sip-edge drives
     * this one; ngPort, portMin/portMax and statsFlushMs then concern nobody.
     */
    externalRelay?: { host: string; port: number };
    /**
     * How often each relay session's packet counters are written to the store, so a relay that
     * takes over counts what its predecessor relayed (at most this much media goes uncounted).
     */
    statsFlushMs: number;
    /** Relay port range; 0/0 lets the OS pick ephemeral ports. */
    portMin: number;
    portMax: number;
    /**
     * An answered call whose relay has received no media from either side for this long is
     * ended by the platform (BYE to both legs, CDR hangup_by platform): both endpoints are
     * presumed gone. rtpengine's --timeout (default 60 s).
     */
    inactivityTimeoutMs: number;
    /**
     * The same for a call on hold (either side's latest SDP is sendonly, recvonly or inactive,
     * or the 0.0.0.0 hold): silence is expected there. rtpengine's --silent-timeout (default 1 h).
     */
    heldInactivityTimeoutMs: number;
  };
  smsc: {
    /** SMPP port for customer ESMEs. */
    port: number;
    /** How often an idle connector sends enquire_link to the carrier. */
    enquireLinkMs: number;
    /** How long to wait for a submit_sm_resp before treating the submit as failed and requeueing. */
    responseTimeoutMs: number;
    /**
     * After a submit_sm_resp timeout, how long a late response is still matched to its submit. The
     * part is resubmitted only once this has passed without a response (a late ESME_ROK means the
     * carrier has it: resubmitting would put a second copy on the handset).
     */
    lateResponseGraceMs: number;
    /**
     * A customer connection that has not bound within this time is closed (Jasmin's
     * session_init_timer): idle unauthenticated connections must not pile up.
     */
    sessionInitTimeoutMs: number;
    /** Delay before a queued message is retried after a connector failure. */
    retryDelayMs: number;
    /** Delay before a dropped connector reconnects. */
    reconnectDelayMs: number;
    /** Max submit_sm awaiting submit_sm_resp per carrier connector (SMPP window); a backlog drains through it in order. */
    connectorWindow: number;
    /**
     * How long the parts of a concatenated submit from an ESME may take to arrive, counted from the
     * first part. An incomplete set is then recorded as a failed message (INCOMPLETE_CONCATENATION).
     */
    concatenationTimeoutMs: number;
  };
  api: {
    port: number;
    /** Operator key: provisions customers and operations settings. */
    adminApiKey: string;
    /**
     * Kong's rate-limiting plugin with the shared ("cluster") policy: requests a customer's key
     * may make per fixed second and per fixed minute, counted in the store across every gateway
     * node. null: no limit in that window. The operator can set a customer's own limits.
     */
    rateLimits: { perSecond: number | null; perMinute: number | null };
    /** How long an Idempotency-Key is remembered after its first use (a retry after that runs again). */
    idempotencyKeyTtlMs: number;
    /**
     * How long a request holding an Idempotency-Key may take before a retry with that key may
     * run in its place (the node handling it is presumed dead). Until then a retry gets 409.
     */
    idempotencyLeaseMs: number;
    /** Retry-After sent with a 503 when the store is unavailable. */
    storeRetryAfterSeconds: number;
    /**
     * The reference platform's drills (POST /ops/v1/drills/…: a DBA editing the audit trail behind
     * the platform's back). Never on in a product; absent means off.
     */
    referenceDrills?: boolean;
  };
  webhooks: {
    /** First retry delay; doubles on every failed attempt. */
    retryBaseMs: number;
    maxAttempts: number;
    /** Per-attempt HTTP timeout. */
    timeoutMs: number;
  };
  store: {
    /** SQLite database file (WAL mode). */
    file: string;
    /**
     * How long a write waits for another process's write lock before it fails (SQLite's
     * busy_timeout). The driver is synchronous: the whole process (RTP, SIP timers) stands still
     * meanwhile, so it is kept short; writes that must not be lost wait in the write-behind queue.
     */
    busyTimeoutMs: number;
  };
  network: {
    /**
     * The only peers the platform sends to on a customer's behalf: a trunk host (SIP) or webhook
     * URL host (HTTP) outside this list is refused by the API (422), and the webhook dispatcher
     * refuses stored URLs outside it. Entries are host names (exact, case-insensitive), IP
     * addresses or CIDR blocks; 127.0.0.0/8 is always allowed. A stand-in platform must never be
     * talked into reaching beyond loopback. To widen it for a lab, extend the list before start-up,
     * e.g. `config.network.allowedPeerHosts.push('pbx.lab.example', '10.20.0.0/16')`.
     */
    allowedPeerHosts: string[];
  };
  /** Calls the platform answers itself: voicemail and the verification line. */
  voice: {
    /** How long the voicemail greeting plays before recording starts. */
    voicemailGreetingMs: number;
    /** A message longer than this is cut: the platform hangs up. */
    voicemailMaxMessageMs: number;
    /** How long each in-call prompt (enter the code, confirmed, try again, refused) plays. */
    promptMs: number;
    /**
     * The prompts, as tones of their own (a stand-in for recorded speech): the frequency tells a
     * listener which prompt it is. Read by tests through GET /ops/v1/settings.
     */
    promptHz: { greeting: number; enterCode: number; confirmed: number; tryAgain: number; refused: number };
    /** A one-time code texted by the verification line is valid this long, unless the line sets its own. */
    verificationCodeTtlMs: number;
    /** Wrong codes allowed per verification before it fails. */
    verificationMaxAttempts: number;
  };
  /** SMS campaigns: how the sender paces them. */
  campaigns: {
    /** How often running and scheduled campaigns are looked at: the granularity of pacing and of a scheduled start. */
    tickMs: number;
    /** Texts a second a campaign hands to the network when it does not set its own rate. */
    defaultRatePerSecond: number;
    /** The highest rate a campaign may ask for. */
    maxRatePerSecond: number;
  };
  /**
   * Third-party HTTP providers the platform calls. null disables the feature that needs it
   * (a voicemail is then kept without a transcript). Never a customer-supplied address.
   */
  providers: {
    speechToTextUrl: string | null;
    /** Per-request bound on a provider call; past it the feature goes on without the provider's answer. */
    timeoutMs: number;
  };
  /** Issue 13's defences, one part each; embedded defaults live beside each part's code. */
  security: {
    identity: IdentitySettings;
    /** The sip-edge's brute-force jail and scanner filter (platform/sip-edge/security.ts). */
    sipFraud: SipFraudSettings;
    /** The SMS spam filter (platform/smsc/spam-filter.ts). */
    spam: SpamSettings;
    /** Per-customer quotas shared by every channel and node (platform/core/customer-quotas.ts). */
    limits: LimitSettings;
  };
  /** Free text printed in logs and the health endpoint. */
  version: string;
}

/** The third-party speech-to-text endpoint of the embedded target: a reserved name, only ever answered by the suite's stub. */
export const EMBEDDED_SPEECH_TO_TEXT_URL = 'https://speech-to-text.provider.test/v1/transcriptions';

/** Short timers for the embedded target: fast, but long enough to be observable. */
export function embeddedDefaults(overrides: { storeFile: string; adminApiKey: string }): PlatformConfig {
  return {
    host: '127.0.0.1',
    sip: {
      udpPort: 0,
      wsPort: 0,
      domain: '127.0.0.1',
      nonceTtlMs: 30_000,
      noAnswerTimeoutMs: 1_500,
      defaultExpiresSeconds: 300,
      // Short enough that a scenario can watch a registration lapse; Kamailio's max_expires default.
      minExpiresSeconds: 1,
      maxExpiresSeconds: 3600,
      // RFC 3261 values: loopback loses nothing, so they only shape failure paths, and a shorter
      // T1 would retransmit spuriously whenever a busy CI host answers late.
      t1Ms: 500,
      t2Ms: 4_000,
      t4Ms: 5_000,
      controlPort: 0,
    },
    // rtpengine's defaults: a lost call is noticed after a minute of silence, a held one after an hour.
    media: {
      ngPort: 0,
      statsFlushMs: 100,
      portMin: 0,
      portMax: 0,
      inactivityTimeoutMs: 60_000,
      heldInactivityTimeoutMs: 3_600_000,
    },
    smsc: {
      port: 0,
      enquireLinkMs: 5_000,
      responseTimeoutMs: 2_000,
      lateResponseGraceMs: 5_000,
      // Jasmin's default session_init_timer (30 s): generous for any real client, bounded for idle sockets.
      sessionInitTimeoutMs: 30_000,
      retryDelayMs: 200,
      reconnectDelayMs: 200,
      connectorWindow: 10,
      concatenationTimeoutMs: 60_000,
    },
    api: {
      port: 0,
      adminApiKey: overrides.adminApiKey,
      // Generous: only a scenario that sets a customer's own limits ever meets them.
      rateLimits: { perSecond: 1_000, perMinute: 60_000 },
      // The IETF idempotency-key draft's and Stripe's 24 hours.
      idempotencyKeyTtlMs: 24 * 3_600_000,
      idempotencyLeaseMs: 10_000,
      storeRetryAfterSeconds: 1,
      referenceDrills: true,
    },
    webhooks: { retryBaseMs: 100, maxAttempts: 6, timeoutMs: 1_000 },
    // Ordinary contention between nodes lasts a few ms; past this the primary is taken as gone.
    store: { file: overrides.storeFile, busyTimeoutMs: 250 },
    network: { allowedPeerHosts: ['127.0.0.1', 'localhost', '::1'] },
    voice: {
      voicemailGreetingMs: 600,
      voicemailMaxMessageMs: 30_000,
      promptMs: 400,
      promptHz: { greeting: 450, enterCode: 650, confirmed: 1000, tryAgain: 1400, refused: 300 },
      // Generous even for a slow CI host keying three wrong codes; the expiry scenario sets its line's own.
      verificationCodeTtlMs: 30_000,
      verificationMaxAttempts: 3,
    },
    campaigns: { tickMs: 20, defaultRatePerSecond: 20, maxRatePerSecond: 500 },
    providers: { speechToTextUrl: null, timeoutMs: 5_000 },
    security: {
      identity: { ...EMBEDDED_IDENTITY_SETTINGS },
      sipFraud: { ...EMBEDDED_SIP_FRAUD, scannerUserAgents: [...EMBEDDED_SIP_FRAUD.scannerUserAgents] },
      spam: EMBEDDED_SPAM_SETTINGS,
      limits: { ...EMBEDDED_LIMITS },
    },
    version: '0.1.0',
  };
}

/** Where the sip-edge sends ng commands: the external relay, else the platform's own on ngPort. */
export function ngAddress(config: PlatformConfig): { host: string; port: number } {
  return config.media.externalRelay ?? { host: config.host, port: config.media.ngPort };
}

/** The relay as GET /ops/v1/settings names it. */
export function relayDescription(config: PlatformConfig): string {
  const external = config.media.externalRelay;
  return external ? `external ng udp:${external.host}:${external.port}` : 'embedded';
}
