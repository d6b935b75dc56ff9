/**
 * Configuration of the reference platform. Every timer is configurable so the embedded
 * target can run with short business durations; ports of 0 mean "pick an ephemeral port".
 */
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
    /**
     * RFC 3261 T1, the round-trip estimate: UDP retransmissions start at T1 and double, and every
     * transaction times out after 64·T1 (an unanswered INVITE → 408, an unACKed 2xx → BYE).
     */
    t1Ms: number;
    /** RFC 3261 T2: the longest interval between retransmissions of non-INVITE requests and INVITE finals. */
    t2Ms: number;
    /** RFC 3261 T4: how long a message may linger in the network (Timer K). */
    t4Ms: number;
  };
  media: {
    /** Relay port range; 0/0 lets the OS pick ephemeral ports. */
    portMin: number;
    portMax: number;
  };
  smsc: {
    /** SMPP port for customer ESMEs. */
    port: number;
    /** How often an idle connector sends enquire_link to the carrier. */
    enquireLinkMs: number;
    /** How long to wait for a submit_sm_resp before treating the submit as failed and requeueing. */
    responseTimeoutMs: number;
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
  };
  /** Free text printed in logs and the health endpoint. */
  version: string;
}

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
      // RFC 3261 values: loopback loses nothing, so they only shape failure paths, and a shorter
      // T1 would retransmit spuriously whenever a busy CI host answers late.
      t1Ms: 500,
      t2Ms: 4_000,
      t4Ms: 5_000,
    },
    media: { portMin: 0, portMax: 0 },
    smsc: {
      port: 0,
      enquireLinkMs: 5_000,
      responseTimeoutMs: 2_000,
      retryDelayMs: 200,
      reconnectDelayMs: 200,
      connectorWindow: 10,
      concatenationTimeoutMs: 60_000,
    },
    api: { port: 0, adminApiKey: overrides.adminApiKey },
    webhooks: { retryBaseMs: 100, maxAttempts: 6, timeoutMs: 1_000 },
    store: { file: overrides.storeFile },
    version: '0.1.0',
  };
}
