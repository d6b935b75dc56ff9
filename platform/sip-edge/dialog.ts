/**
 * One SIP dialog leg as the edge keeps it (RFC 3261 §12), shared by the B2BUA's calls (calls.ts)
 * and the calls the platform places itself (originate.ts): opening a leg towards a target,
 * sending its INVITE, in-dialog requests (ACK, BYE, relayed re-INVITEs), CANCEL of its INVITE,
 * learning the peer's tag and Contact from responses, and the table that finds a leg by the
 * Call-ID and the edge's own tag of an incoming request.
 */
import type { RelaySide } from '../media-relay';
import { headerValue, randomToken, type SipRequest, type SipResponse } from './message';
import { routeSetAsUac } from './proxy';
import type { LegTarget } from './routing';
import type { ClientTransactionHandlers, SipStack } from './stack';
import type { Flow } from './transport';

export interface DialogLeg {
  side: RelaySide;
  flow: Flow;
  callId: string;
  localTag: string;
  /** From (on our requests) / To (on our responses) as the edge presents itself on this leg, tag included. */
  localHeader: string;
  /** The peer's header, tag included once known. */
  remoteHeader: string;
  /** Request-URI for in-dialog requests: the peer's Contact. */
  remoteTarget: string;
  localCseq: number;
  contact: string;
  /**
   * Route headers of the leg's in-dialog requests (RFC 3261 §12.1): the proxies that
   * record-routed, in the order the request passes them. Before the dialog exists: the route the
   * INVITE was sent with (a registration's Path). Empty without a proxy.
   */
  routeSet: string[];
  /** The Route the leg's INVITE carried: its CANCEL must carry the same (RFC 3261 §9.1). */
  inviteRoute: string[];
}

/** The INVITE that opened a leg the edge called: its CANCEL needs the same branch, URI and CSeq. */
export interface SentInvite {
  branch: string;
  uri: string;
  cseq: number;
}

/** A new leg the edge opens as UAC towards `target`, with a fresh Call-ID and tag (CSeq 1). */
export function openLeg(side: RelaySide, target: LegTarget, stack: SipStack, domain: string): DialogLeg {
  const localTag = randomToken(8);
  return {
    side,
    flow: target.flow,
    callId: `${randomToken(12)}@${domain}`,
    localTag,
    localHeader: `${target.from};tag=${localTag}`,
    remoteHeader: target.to,
    remoteTarget: target.uri,
    localCseq: 1,
    contact: stack.transports.contactFor(target.flow),
    routeSet: [...(target.route ?? [])],
    inviteRoute: [...(target.route ?? [])],
  };
}

/** The leg's INVITE (CSeq = the leg's current CSeq) to its remote target. */
export function sendInvite(
  stack: SipStack,
  leg: DialogLeg,
  invite: {
    maxForwards: number;
    allow: string;
    extraHeaders: Array<[string, string]>;
    body: string | undefined;
    contentType: string | undefined;
  },
  handlers: ClientTransactionHandlers,
): { branch: string; sent: boolean } {
  return stack.sendRequest(
    leg.flow,
    {
      method: 'INVITE',
      uri: leg.remoteTarget,
      headers: [
        ['Max-Forwards', String(invite.maxForwards)],
        ['From', leg.localHeader],
        ['To', leg.remoteHeader],
        ['Call-ID', leg.callId],
        ['CSeq', `${leg.localCseq} INVITE`],
        ...routeHeaders(leg.inviteRoute),
        ['Contact', `<${leg.contact}>`],
        ['Allow', invite.allow],
        ...invite.extraHeaders,
      ],
      body: invite.body,
      contentType: invite.contentType,
    },
    handlers,
  );
}

/** An in-dialog request on the leg; INVITE and UPDATE carry the edge's Contact (a target refresh). */
export function sendInDialog(
  stack: SipStack,
  leg: DialogLeg,
  method: string,
  cseq: number,
  content: { body?: string; contentType?: string } = {},
  handlers: ClientTransactionHandlers = {},
): { branch: string; sent: boolean } {
  const headers: Array<[string, string]> = [
    ['Max-Forwards', '70'],
    ['From', leg.localHeader],
    ['To', leg.remoteHeader],
    ['Call-ID', leg.callId],
    ['CSeq', `${cseq} ${method}`],
    ...routeHeaders(leg.routeSet),
  ];
  if (method === 'INVITE' || method === 'UPDATE') headers.push(['Contact', `<${leg.contact}>`]);
  return stack.sendRequest(
    leg.flow,
    { method, uri: leg.remoteTarget, headers, body: content.body, contentType: content.contentType },
    handlers,
  );
}

/** BYE on the leg (next CSeq); a refusal or silence is only logged: the call is over either way. */
export function sendBye(stack: SipStack, leg: DialogLeg, log: (message: string) => void): void {
  sendInDialog(
    stack,
    leg,
    'BYE',
    ++leg.localCseq,
    {},
    {
      onResponse: (response) => {
        if (response.status >= 300)
          log(`BYE on leg ${leg.side} answered ${response.status} ${response.reason}`);
      },
      // The log line (Timer F) says the peer never confirmed it.
      onTimeout: () => log(`BYE on leg ${leg.side} was never answered`),
    },
  );
}

/** CANCEL of the leg's INVITE (RFC 3261 §9.1): same branch, Request-URI and CSeq number, no To tag. */
export function sendCancel(stack: SipStack, leg: DialogLeg, invite: SentInvite): void {
  stack.sendRequest(leg.flow, {
    method: 'CANCEL',
    uri: invite.uri,
    branch: invite.branch,
    headers: [
      ['Max-Forwards', '70'],
      ['From', leg.localHeader],
      ['To', leg.remoteHeader.replace(/;\s*tag=[^;]*/i, '')],
      ['Call-ID', leg.callId],
      ['CSeq', `${invite.cseq} CANCEL`],
      ...routeHeaders(leg.inviteRoute),
    ],
  });
}

function routeHeaders(routes: readonly string[]): Array<[string, string]> {
  return routes.map((route) => ['Route', route]);
}

/**
 * The peer's To (with its tag), Contact and the dialog's route set from a response to the leg's
 * INVITE: a 1xx with a tag or the 2xx fixes the route set (the 2xx last, RFC 3261 §12.1.2).
 */
export function learnRemote(leg: DialogLeg, response: SipResponse): void {
  if (response.toTag !== undefined)
    leg.remoteHeader = headerValue(response.headers, 'to') ?? leg.remoteHeader;
  if (response.toTag !== undefined && response.status > 100 && response.status < 300)
    leg.routeSet = routeSetAsUac(response);
  const contact = contactUri(response);
  if (contact) leg.remoteTarget = contact;
}

/** The URI of a message's Contact header; undefined for none or "*". */
export function contactUri(message: SipRequest | SipResponse): string | undefined {
  const value = headerValue(message.headers, 'contact');
  const match = value === undefined ? null : /<([^>]+)>/.exec(value);
  return match?.[1] ?? (value !== undefined && value !== '*' ? value.split(';')[0]?.trim() : undefined);
}

/** Dialogs by Call-ID and the edge's own tag (the To tag of an incoming in-dialog request). */
export class DialogTable<C> {
  private readonly entries = new Map<string, { call: C; side: RelaySide }>();

  add(leg: Pick<DialogLeg, 'callId' | 'localTag' | 'side'>, call: C): void {
    this.entries.set(dialogKey(leg.callId, leg.localTag), { call, side: leg.side });
  }

  remove(leg: Pick<DialogLeg, 'callId' | 'localTag'>): void {
    this.entries.delete(dialogKey(leg.callId, leg.localTag));
  }

  find(request: SipRequest): { call: C; side: RelaySide } | undefined {
    return request.toTag === undefined
      ? undefined
      : this.entries.get(dialogKey(request.callId, request.toTag));
  }
}

function dialogKey(callId: string, localTag: string): string {
  return `${callId}|${localTag}`;
}
