/**
 * Digest authentication of SIP requests against sip_accounts, with Kamailio's answers:
 * no credentials, an unknown nonce or a wrong password → a fresh challenge (401/407, as
 * Kamailio's www_challenge/proxy_challenge do after a failed auth check); an expired nonce →
 * challenge with stale=true; an unknown user → the same fresh challenge as a wrong password
 * (Kamailio's answer too: a different one would tell a scanner which accounts exist); credentials of one user for another user's identity → 403 "Forbidden auth ID";
 * a digest `uri` that is not the Request-URI → 400 Bad Request (RFC 2617 §3.2.2.5 "SHOULD return
 * 400"; Kamailio's auth module likewise treats malformed credentials as a 400 rather than
 * re-challenging). The edge sends all of these statelessly (SipStack.respondStateless).
 */
import type { Db } from '../store/store';
import {
  computeDigestResponse,
  digestsEqual,
  formatChallenge,
  NonceIssuer,
  parseCredentials,
} from './digest';
import { headerValues, parseUri, uriText, type SipRequest } from './message';

export interface SipAccount {
  username: string;
  customerId: string;
  password: string;
  number: string;
  /** Calls to this account ring this number instead (null: ring the account). */
  forwardTo: string | null;
  /** Number presented on calls out over a trunk (null: the trunk's, else the account's number). */
  callerId: string | null;
  /** Unanswered calls go to voicemail instead of failing. */
  voicemail: boolean;
}

/** The sip_accounts columns the edge reads, and their mapping: one place for every lookup. */
export const ACCOUNT_COLUMNS = 'username, customer_id, password, number, forward_to, caller_id, voicemail';

export interface AccountRecord {
  username: string;
  customer_id: string;
  password: string;
  number: string;
  forward_to: string | null;
  caller_id: string | null;
  voicemail: number;
}

export function toAccount(row: AccountRecord): SipAccount {
  return {
    username: row.username,
    customerId: row.customer_id,
    password: row.password,
    number: row.number,
    forwardTo: row.forward_to,
    callerId: row.caller_id,
    voicemail: row.voicemail === 1,
  };
}

export type AuthOutcome =
  | { ok: true; account: SipAccount }
  | { ok: false; status: number; reason: string; headers: Array<[string, string]>; detail: string };

export type AuthKind = 'www' | 'proxy';

/** A request the authenticator refused or denied: what the SIP guard counts and the audit records. */
export interface AuthFailure {
  address: string;
  username: string;
  customerId: string | null;
  method: string;
}

export class DigestAuthenticator {
  private readonly nonces: NonceIssuer;
  /** Opaque is constant per edge instance: it only has to come back unchanged. */
  private readonly opaque: string;

  constructor(
    private readonly db: Db,
    private readonly realm: string,
    nonceTtlMs: number,
    nonceSecret?: string,
    /** Told of every answer that carried credentials which failed: the brute-force jail counts them. */
    private readonly onRejected: (failure: AuthFailure) => void = () => undefined,
    /** Told of every proven account refused because its customer is suspended (the audit trail). */
    private readonly onDenied: (denial: AuthFailure) => void = () => undefined,
  ) {
    this.nonces = new NonceIssuer(nonceTtlMs, Date.now, nonceSecret);
    this.opaque = this.nonces.constant('opaque');
  }

  findAccount(username: string): SipAccount | undefined {
    const row = this.db
      .prepare(`SELECT ${ACCOUNT_COLUMNS} FROM sip_accounts WHERE username = ?`)
      .get(username) as AccountRecord | undefined;
    return row ? toAccount(row) : undefined;
  }

  /**
   * Checks the request's Authorization (kind www) or Proxy-Authorization (kind proxy) for our
   * realm. `identityUser` is the user part the request claims (To for REGISTER, From otherwise);
   * `source` the sender's true address, which failed credentials are counted against.
   */
  authenticate(
    request: SipRequest,
    kind: AuthKind,
    identityUser: string | undefined,
    source: string,
  ): AuthOutcome {
    const headerName = kind === 'www' ? 'authorization' : 'proxy-authorization';
    const ours = headerValues(request.headers, headerName)
      .map((value) => parseCredentials(value))
      .find((credentials) => credentials !== undefined && credentials.realm === this.realm);
    if (!ours) return this.challenge(kind, false, `no ${headerName} credentials for realm "${this.realm}"`);
    if (!digestUriMatches(ours.uri, request)) {
      // RFC 2617 §3.2.2.5: credentials computed for another URI are a malformed request (400),
      // not a wrong password: challenging again would invite replaying them elsewhere.
      return {
        ok: false,
        status: 400,
        reason: 'Bad Request',
        headers: [['Warning', `399 ${this.realm} "digest uri does not match the Request-URI"`]],
        detail: `digest uri ${JSON.stringify(ours.uri)} does not match the Request-URI ${JSON.stringify(request.rawUri)}`,
      };
    }
    if (ours.algorithm !== undefined && ours.algorithm.toUpperCase() !== 'MD5') {
      return this.challenge(kind, false, `unsupported digest algorithm ${ours.algorithm}`);
    }
    if (ours.opaque !== undefined && ours.opaque !== this.opaque)
      return this.challenge(kind, false, 'opaque does not match the challenge');
    const nonceState = this.nonces.check(ours.nonce);
    if (nonceState === 'invalid') return this.challenge(kind, false, 'nonce was not issued by this edge');
    const account = this.findAccount(ours.username);
    const rejected = (detail: string): AuthOutcome => {
      this.onRejected({
        address: source,
        username: ours.username,
        customerId: account?.customerId ?? null,
        method: request.method,
      });
      return this.challenge(kind, false, detail);
    };
    // No such account: answered exactly like a wrong password, so probing tells nothing.
    if (!account) return rejected(`unknown user "${ours.username}"`);
    if (ours.qop !== undefined && ours.qop !== 'auth')
      return this.challenge(kind, false, `unsupported qop "${ours.qop}"`);
    if (ours.qop === 'auth' && (ours.nc === undefined || ours.cnonce === undefined))
      return this.challenge(kind, false, 'qop=auth without nc/cnonce');
    const expected = computeDigestResponse({
      username: ours.username,
      realm: this.realm,
      password: account.password,
      method: request.method,
      uri: ours.uri,
      nonce: ours.nonce,
      qop: ours.qop,
      nc: ours.nc,
      cnonce: ours.cnonce,
    });
    if (!digestsEqual(expected, ours.response)) return rejected(`wrong password for "${ours.username}"`);
    // A correct response to an expired nonce proves the password but not freshness: ask again.
    if (nonceState === 'stale') return this.challenge(kind, true, 'nonce expired');
    if (identityUser !== undefined && identityUser !== account.username && identityUser !== account.number) {
      return {
        ok: false,
        status: 403,
        reason: 'Forbidden auth ID',
        headers: [],
        detail: `"${ours.username}" may not act as "${identityUser}"`,
      };
    }
    // After the password is proven (a guesser learns nothing), as a Kamailio script checks an
    // account-disabled attribute after auth: the operator's suspension refuses every request.
    if (this.customerSuspended(account.customerId)) {
      this.onDenied({
        address: source,
        username: account.username,
        customerId: account.customerId,
        method: request.method,
      });
      return {
        ok: false,
        status: 403,
        reason: 'Forbidden',
        headers: [['Warning', `399 ${this.realm} "customer suspended by the operator"`]],
        detail: `customer ${account.customerId} of "${account.username}" is suspended`,
      };
    }
    return { ok: true, account };
  }

  private customerSuspended(customerId: string): boolean {
    const row = this.db.prepare('SELECT suspended_at FROM customers WHERE id = ?').get(customerId) as
      { suspended_at: string | null } | undefined;
    return row !== undefined && row.suspended_at !== null;
  }

  challenge(kind: AuthKind, stale: boolean, detail: string): AuthOutcome {
    const value = formatChallenge({
      realm: this.realm,
      nonce: this.nonces.issue(),
      opaque: this.opaque,
      stale,
    });
    return kind === 'www'
      ? { ok: false, status: 401, reason: 'Unauthorized', headers: [['WWW-Authenticate', value]], detail }
      : {
          ok: false,
          status: 407,
          reason: 'Proxy Authentication Required',
          headers: [['Proxy-Authenticate', value]],
          detail,
        };
  }
}

/**
 * The digest `uri` names the Request-URI (RFC 2617 §3.2.2.5). Clients copy it verbatim; a
 * textual difference that is the same URI once normalised by the parser (case of scheme/host,
 * escaping) still matches.
 */
function digestUriMatches(digestUri: string, request: SipRequest): boolean {
  if (digestUri === request.rawUri) return true;
  const parsed = parseUri(digestUri);
  const normalised = parsed ? uriText(parsed) : undefined;
  return normalised !== undefined && normalised === uriText(request.uri);
}
