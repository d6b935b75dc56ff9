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

export interface SipFraudSettings {
  /** Failed digest answers from one address, within the window, that get it banned (fail2ban maxretry). */
  authFailuresBeforeBan: number;
  /** How far back failures count (fail2ban findtime). */
  failureWindowMs: number;
  /** How long a banned address is ignored (fail2ban bantime, htable autoexpire). */
  banMs: number;
  /** User-Agent fragments of attack tools (secfilter's ua blacklist), matched case-insensitively. */
  scannerUserAgents: string[];
}

/** fail2ban's asterisk/kamailio jails use maxretry 5; the embedded ban is short enough to watch end. */
export const EMBEDDED_SIP_FRAUD: SipFraudSettings = {
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
export interface AuthFailure {
  address: string;
  username: string;
  customerId: string | null;
  method: string;
}

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
