/**
 * Registrar (RFC 3261 §10) with a location table kept in memory and written through to the
 * store (Kamailio's usrloc with db_mode 1, see location-store.ts), loaded again at start. A binding remembers the flow the REGISTER arrived on (fix_nated_register /
 * WebSocket connection), because that is the only way back to a phone behind NAT or on WS.
 */
import type { DigestAuthenticator } from './auth';
import type { Binding, LocationStore } from './location-store';
import { headerValue, headerValues, parseNameAddr, uriText, type SipRequest } from './message';
import { pathOf, supportsPath } from './proxy';
import type { SipStack } from './stack';
import { sameFlow, type Flow } from './transport';

/** The lifetimes the registrar grants, in seconds (Kamailio's default_expires, min_expires, max_expires). */
export interface ExpiryBounds {
  defaultSeconds: number;
  minSeconds: number;
  maxSeconds: number;
}

export type { Binding } from './location-store';

export interface BindingInfo {
  username: string;
  contact: string;
  transport: 'UDP' | 'WS';
  source: string;
  expiresAt: string;
  registeredAt: string;
  userAgent?: string;
}

export class Registrar {
  private readonly table = new Map<string, Binding[]>();

  constructor(
    private readonly stack: SipStack,
    private readonly auth: DigestAuthenticator,
    private readonly domains: string[],
    private readonly expiry: ExpiryBounds,
    private readonly log: (message: string) => void,
    private readonly store: LocationStore,
    /**
     * Active-active edge: peers register phones too, so a user's bindings are read from the store
     * on every use (usrloc db_mode 3, DB-only), keeping this node's own WebSocket ones.
     */
    private readonly shared = false,
  ) {
    for (const [username, bindings] of store.load()) this.table.set(username, bindings);
    if (this.table.size > 0) this.log(`${this.table.size} registered user(s) restored from the store`);
  }

  /** `source`: the sender's true address (the hop below a trusted proxy), for the brute-force jail. */
  handleRegister(request: SipRequest, flow: Flow, source: string = flow.address): void {
    const toUser = request.to.uri.user;
    if (!this.domains.includes(request.to.uri.host)) {
      this.stack.respond(request, flow, 403, { reason: 'Domain Not Served' });
      return;
    }
    const outcome = this.auth.authenticate(request, 'www', toUser, source);
    if (!outcome.ok) {
      this.log(
        `REGISTER ${uriText(request.to.uri) ?? '?'} from ${flow.address}:${flow.port}: ${outcome.status} (${outcome.detail})`,
      );
      // Stateless like Kamailio's www_challenge: an unauthenticated sender costs no memory.
      this.stack.respondStateless(request, flow, outcome.status, {
        reason: outcome.reason,
        headers: outcome.headers,
      });
      return;
    }
    const username = outcome.account.username;
    const contacts = headerValues(request.headers, 'contact');
    const expiresHeader = headerValue(request.headers, 'expires');
    const defaultExpires =
      expiresHeader !== undefined && /^\d+$/.test(expiresHeader)
        ? Number(expiresHeader)
        : this.expiry.defaultSeconds;

    if (contacts.includes('*')) {
      // RFC 3261 §10.3 step 6: "*" only alone and only with Expires: 0.
      if (contacts.length !== 1 || defaultExpires !== 0 || expiresHeader === undefined) {
        this.stack.respond(request, flow, 400, {
          reason: 'Bad Request',
          headers: [['Warning', '399 edge "Contact: * needs Expires: 0 and no other Contact"']],
        });
        return;
      }
      this.put(username, []);
      this.log(`${username}: all bindings removed`);
      this.respondWithBindings(request, flow, username);
      return;
    }

    const now = Date.now();
    const bindings = this.current(username);
    for (const contactText of contacts) {
      const contact = parseNameAddr(contactText, 'Contact');
      const uri = contact ? uriText(contact.uri) : undefined;
      if (!contact || uri === undefined) {
        this.stack.respond(request, flow, 400, {
          reason: 'Bad Request',
          headers: [['Warning', `399 edge "unparseable Contact ${contactText}"`]],
        });
        return;
      }
      const param: unknown = contact.getParam('expires');
      const requested = typeof param === 'string' && /^\d+$/.test(param) ? Number(param) : defaultExpires;
      // 0 removes the binding; anything else is kept within the bounds (min_expires_mode "adjust").
      const expires =
        requested === 0 ? 0 : Math.min(Math.max(requested, this.expiry.minSeconds), this.expiry.maxSeconds);
      const index = bindings.findIndex((b) => b.contact === uri);
      if (expires === 0) {
        if (index >= 0) bindings.splice(index, 1);
        continue;
      }
      const binding: Binding = {
        username,
        contact: uri,
        flow,
        expiresAt: now + expires * 1000,
        registeredAt: new Date(now).toISOString(),
        callId: request.callId,
        cseq: request.cseq.seq,
        userAgent: headerValue(request.headers, 'user-agent'),
        path: pathOf(request),
      };
      if (index >= 0) bindings[index] = binding;
      else bindings.push(binding);
    }
    this.put(username, bindings);
    this.log(
      `${username}: ${bindings.length} binding(s) after REGISTER from ${flow.transport} ${flow.address}:${flow.port}`,
    );
    this.respondWithBindings(request, flow, username);
  }

  /** The binding to call: the most recently registered, unexpired one. */
  lookup(username: string): Binding | undefined {
    const bindings = this.current(username);
    return bindings.reduce<Binding | undefined>(
      (latest, b) => (!latest || b.registeredAt >= latest.registeredAt ? b : latest),
      undefined,
    );
  }

  bindings(username?: string): BindingInfo[] {
    const names = username === undefined ? [...this.table.keys()] : [username];
    return names.flatMap((name) =>
      this.current(name).map((b) => ({
        username: b.username,
        contact: b.contact,
        transport: b.flow.transport,
        source: `${b.flow.address}:${b.flow.port}`,
        expiresAt: new Date(b.expiresAt).toISOString(),
        registeredAt: b.registeredAt,
        userAgent: b.userAgent,
      })),
    );
  }

  /** A closed WebSocket takes its bindings with it (usrloc handle_lost_tcp). */
  dropFlow(flow: Flow): void {
    for (const [username, bindings] of this.table) {
      const remaining = bindings.filter((b) => !sameFlow(b.flow, flow));
      if (remaining.length === bindings.length) continue;
      this.log(`${username}: ${bindings.length - remaining.length} binding(s) removed, connection closed`);
      this.put(username, remaining);
    }
  }

  /**
   * A contact a proxy in front reports unreachable (430 Flow Failed, RFC 5626 §5.3) is
   * forgotten, as dropFlow does for a WebSocket the edge itself holds.
   */
  dropContact(username: string, contact: string): void {
    const bindings = this.current(username);
    const remaining = bindings.filter((b) => b.contact !== contact);
    if (remaining.length === bindings.length) return;
    this.log(`${username}: binding ${contact} removed, the proxy reports its flow failed (430)`);
    this.put(username, remaining);
  }

  /** The user's bindings change: memory and store alike (write-through). */
  private put(username: string, bindings: Binding[]): void {
    if (bindings.length === 0) this.table.delete(username);
    else this.table.set(username, bindings);
    this.store.save(username, bindings);
  }

  private current(username: string): Binding[] {
    const now = Date.now();
    if (this.shared) {
      const own = (this.table.get(username) ?? []).filter((b) => b.flow.transport !== 'UDP');
      this.table.set(username, [...this.store.loadUser(username, now), ...own]);
    }
    const live = (this.table.get(username) ?? []).filter((b) => b.expiresAt > now);
    if (live.length === 0) this.table.delete(username);
    else this.table.set(username, live);
    return live;
  }

  private respondWithBindings(request: SipRequest, flow: Flow, username: string): void {
    const now = Date.now();
    const headers: Array<[string, string]> = this.current(username).map((b) => [
      'Contact',
      `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`,
    ]);
    headers.push(['Date', new Date(now).toUTCString()]);
    // RFC 3327 §5.3: the Path goes back in the 200 OK, to a UA that supports it (Kamailio's
    // path_mode 2, "lazy": stored either way, echoed only to a UA that said Supported: path).
    if (supportsPath(request)) headers.push(...pathOf(request).map((p): [string, string] => ['Path', p]));
    this.stack.respond(request, flow, 200, { reason: 'OK', headers });
  }
}
