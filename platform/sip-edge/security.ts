/**
 * The sip-edge's defences against password guessing and scanners, as a Kamailio edge builds them:
 * - secfilter: requests whose User-Agent names a known attack tool are dropped, never answered;
 * - fail2ban / htable `ipban` with autoexpire: an address that fails digest authentication
 *   `authFailuresBeforeBan` times within `failureWindowMs` is banned for `banMs`, and every request
 *   from it is dropped unanswered meanwhile (an attacker learns nothing, spends nothing of ours);
 * - the ban counts per source address, so the account's real phone elsewhere is never locked out.
 * Every failure and ban is audited; a ban is told to the customers whose accounts were tried.
 */
import type { Bus } from '../bus';
import { recordAudit } from '../core/audit';
import type { Db } from '../store/store';
import type { AuthFailure, SipAccount } from './auth';

export type { AuthFailure } from './auth';

export interface SipFraudSettings extends CallFraudSettings {
  /** Failed digest answers from one address, within the window, that get it banned (fail2ban maxretry). */
  authFailuresBeforeBan: number;
  /** How far back failures count (fail2ban findtime). */
  failureWindowMs: number;
  /** How long a banned address is ignored (fail2ban bantime, htable autoexpire). */
  banMs: number;
  /** User-Agent fragments of attack tools (secfilter's ua blacklist), matched case-insensitively. */
  scannerUserAgents: string[];
}

/**
 * Toll fraud and simultaneous-call caps, as Kamailio does them with an htable counter per account
 * for high-risk destinations (a dialplan/prefix match, as IRSF filters do) and dialog profiles
 * (`set_dlg_profile` + `get_profile_size`) for calls in progress per account.
 */
export interface CallFraudSettings {
  /** Premium-rate destinations (E.164 prefixes): costly to call, a fraudster's payout. */
  premiumRatePrefixes: string[];
  /** Far-international destinations seen in international revenue share fraud (E.164 prefixes). */
  farInternationalPrefixes: string[];
  /** High-risk calls one account may start within the window; the next are refused. */
  highRiskCallsPerWindow: number;
  highRiskWindowMs: number;
  /** Calls one account may have in progress at once, by its customer's tier. */
  simultaneousCallsByTier: Record<string, number>;
}

export const EMBEDDED_CALL_FRAUD: CallFraudSettings = {
  // NANP 900, UK 09, German 0900: premium-rate ranges.
  premiumRatePrefixes: ['+1900', '+449', '+49900'],
  // Satellite and small-island ranges that top IRSF reports: Inmarsat/Iridium, Ascension, Cuba,
  // Papua New Guinea, Cook Islands, Tokelau.
  farInternationalPrefixes: ['+870', '+881', '+882', '+883', '+247', '+53', '+675', '+682', '+690'],
  highRiskCallsPerWindow: 3,
  highRiskWindowMs: 60_000,
  simultaneousCallsByTier: { standard: 2, premium: 5, 'call-center': 20, 'api-only': 1 },
};

/** fail2ban's asterisk/kamailio jails use maxretry 5; the embedded ban is short enough to watch end. */
export const EMBEDDED_SIP_FRAUD: SipFraudSettings = {
  ...EMBEDDED_CALL_FRAUD,
  authFailuresBeforeBan: 5,
  failureWindowMs: 10_000,
  banMs: 3_000,
  // SIPVicious (svmap/svwar/svcrack announce "friendly-scanner" or "sipvicious"), sipcli, SIPScan,
  // sundayddr, iWar, VaxSIPUserAgent, smap, pplsip: the UAs secfilter deployments list.
  scannerUserAgents: [
    'friendly-scanner',
    'sipvicious',
    'sipcli',
    'sip-scan',
    'sipscan',
    'sundayddr',
    'iwar',
    'vaxsipuseragent',
    'smap',
    'pplsip',
  ],
};

/** Why a request is dropped before the edge handles it, or undefined to handle it. */
export type DropReason = { kind: 'banned'; until: number } | { kind: 'scanner'; userAgent: string };

/** A failed digest answer: the username it claimed and, when the account exists, its owner. */
export interface BanNotice {
  address: string;
  until: number;
  failures: number;
  /** The accounts tried from the address, by owner (null: names that are no account). */
  tried: Array<{ username: string; customerId: string | null }>;
}

export class SipGuard {
  /** address → recent failure instants and what they tried (the htable the jail reads). */
  private readonly failures = new Map<
    string,
    Array<{ at: number; username: string; customerId: string | null }>
  >();
  /** address → ban expiry (epoch ms): htable ipban with autoexpire. */
  private readonly bans = new Map<string, number>();

  constructor(
    private readonly settings: SipFraudSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Checked first for every request: a banned address or a scanner's User-Agent is dropped. */
  screen(address: string, userAgent: string | undefined): DropReason | undefined {
    const until = this.bans.get(address);
    if (until !== undefined) {
      if (until > this.now()) return { kind: 'banned', until };
      this.bans.delete(address);
    }
    if (userAgent !== undefined) {
      const ua = userAgent.toLowerCase();
      if (this.settings.scannerUserAgents.some((fragment) => ua.includes(fragment.toLowerCase())))
        return { kind: 'scanner', userAgent };
    }
    return undefined;
  }

  /** A request carried credentials that failed (wrong password or no such account); may ban the address. */
  authFailed(failure: AuthFailure): BanNotice | undefined {
    const now = this.now();
    const recent = (this.failures.get(failure.address) ?? []).filter(
      (f) => now - f.at < this.settings.failureWindowMs,
    );
    recent.push({ at: now, username: failure.username, customerId: failure.customerId });
    if (recent.length < this.settings.authFailuresBeforeBan) {
      this.failures.set(failure.address, recent);
      this.forgetStale(now);
      return undefined;
    }
    this.failures.delete(failure.address);
    const until = now + this.settings.banMs;
    this.bans.set(failure.address, until);
    const tried = new Map<string, string | null>();
    for (const f of recent) tried.set(f.username, f.customerId);
    const notice: BanNotice = {
      address: failure.address,
      until,
      failures: recent.length,
      tried: [...tried].map(([username, customerId]) => ({ username, customerId })),
    };
    return notice;
  }

  /** Addresses that stopped failing are forgotten, so spoofed sources cannot grow the table forever. */
  private forgetStale(now: number): void {
    for (const [address, list] of this.failures)
      if (list.every((f) => now - f.at >= this.settings.failureWindowMs)) this.failures.delete(address);
    for (const [address, until] of this.bans) if (until <= now) this.bans.delete(address);
  }
}

/**
 * The platform's side of a ban and a failure: audit entries (`auth.failed`, `auth.banned`) and a
 * `security.address_banned` event for each customer whose account was tried.
 */
export function securityRecorder(db: Db, bus: Bus, log: (message: string) => void) {
  return {
    failed(failure: AuthFailure): void {
      recordAudit(db, {
        actor: { kind: 'anonymous', id: null },
        customerId: failure.customerId,
        channel: 'sip',
        action: 'auth.failed',
        target: failure.username,
        sourceAddress: failure.address,
        requestId: null,
        detail: { method: failure.method, reason: 'digest authentication failed' },
      });
    },
    /** A proven account refused because its customer is suspended: the customer's trail shows it. */
    denied(denial: AuthFailure): void {
      recordAudit(db, {
        actor: { kind: 'customer', id: denial.customerId },
        customerId: denial.customerId,
        channel: 'sip',
        action: 'access.denied',
        target: denial.username,
        sourceAddress: denial.address,
        requestId: null,
        detail: { method: denial.method, reason: 'the customer is suspended by the platform operator' },
      });
    },
    /** A call refused by the fraud filter (audited, fraud.alert) or the call cap (audited). */
    callRefused(account: SipAccount, callee: string, source: string, refusal: CallRefusal): void {
      const fraud = refusal.kind === 'fraud';
      log(`refused ${account.username}'s call to ${callee}: ${refusal.warning}`);
      recordAudit(db, {
        actor: { kind: 'customer', id: account.customerId },
        customerId: account.customerId,
        channel: 'sip',
        action: fraud ? 'fraud.blocked' : 'call.limited',
        target: account.username,
        sourceAddress: source,
        requestId: null,
        detail: { callee, ...refusal.detail, answer: `${refusal.status} ${refusal.reason}` },
      });
      if (fraud)
        bus.emit('security.alert', {
          customerId: account.customerId,
          type: 'fraud.alert',
          data: { account: account.username, callee, ...refusal.detail },
        });
    },
    banned(notice: BanNotice, banMs: number): void {
      const until = new Date(notice.until).toISOString();
      log(`banned ${notice.address} until ${until} after ${notice.failures} failed authentications`);
      const owners = new Set(notice.tried.map((t) => t.customerId));
      for (const customerId of owners) {
        const accounts = notice.tried.filter((t) => t.customerId === customerId).map((t) => t.username);
        recordAudit(db, {
          actor: { kind: 'platform', id: 'sip-edge' },
          customerId,
          channel: 'sip',
          action: 'auth.banned',
          target: notice.address,
          sourceAddress: notice.address,
          requestId: null,
          detail: { failures: notice.failures, banMs, bannedUntil: until, accounts },
        });
        if (customerId !== null)
          bus.emit('security.alert', {
            customerId,
            type: 'security.address_banned',
            data: { address: notice.address, failures: notice.failures, bannedUntil: until, accounts },
          });
      }
    },
  };
}

export interface CallRefusal {
  status: number;
  reason: string;
  /** A Warning header's text (RFC 3261 §20.43): which limit, and why. */
  warning: string;
  kind: 'fraud' | 'call-limit' | 'call-rate';
  /** Seconds until the caller may try again (a Retry-After header, RFC 3261 §20.33). */
  retryAfterSeconds?: number;
  detail: Record<string, unknown>;
}

export class CallGuard {
  /** account → instants of its recent high-risk call attempts. */
  private readonly highRisk = new Map<string, number[]>();

  constructor(
    private readonly settings: CallFraudSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Which risk a destination carries, if any. */
  riskOf(callee: string): 'premium-rate' | 'far-international' | undefined {
    if (this.settings.premiumRatePrefixes.some((p) => callee.startsWith(p))) return 'premium-rate';
    if (this.settings.farInternationalPrefixes.some((p) => callee.startsWith(p))) return 'far-international';
    return undefined;
  }

  /** Checked for each call an account places: undefined lets it through (and counts it). */
  check(account: string, tier: string, callee: string, inProgress: number): CallRefusal | undefined {
    const cap = this.settings.simultaneousCallsByTier[tier];
    if (cap !== undefined && inProgress >= cap)
      return {
        status: 403,
        reason: 'Simultaneous Call Limit Reached',
        warning: `${inProgress} calls in progress: the ${tier} tier allows ${cap} at once per account`,
        kind: 'call-limit',
        detail: { tier, limit: cap, inProgress },
      };
    const risk = this.riskOf(callee);
    if (risk === undefined) return undefined;
    const now = this.now();
    const recent = (this.highRisk.get(account) ?? []).filter(
      (at) => now - at < this.settings.highRiskWindowMs,
    );
    if (recent.length >= this.settings.highRiskCallsPerWindow) {
      this.highRisk.set(account, recent);
      return {
        status: 403,
        reason: 'Fraud Suspected',
        warning: `${risk} destination refused: ${recent.length} high-risk calls within ${this.settings.highRiskWindowMs} ms already`,
        kind: 'fraud',
        detail: {
          risk,
          limit: this.settings.highRiskCallsPerWindow,
          windowMs: this.settings.highRiskWindowMs,
        },
      };
    }
    recent.push(now);
    this.highRisk.set(account, recent);
    return undefined;
  }
}
