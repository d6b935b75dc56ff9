/**
 * SIP message framing and serialisation for the edge. Framing (start line, header folding,
 * Content-Length in bytes) is ours; header grammar is sip.js's (Grammar.parse), so the edge
 * and the suite's phones read SIP the same way without sharing code with the suite.
 */
import { randomBytes } from 'node:crypto';
import { Grammar, type NameAddrHeader, type URI } from 'sip.js';

const COMPACT_NAMES: Record<string, string> = {
  v: 'via',
  f: 'from',
  t: 'to',
  i: 'call-id',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  k: 'supported',
  s: 'subject',
  e: 'content-encoding',
  o: 'event',
  r: 'refer-to',
  u: 'allow-events',
};

/** Canonical spelling used when the edge writes a header it copied by lower-case name. */
const CANONICAL_NAMES: Record<string, string> = {
  via: 'Via',
  from: 'From',
  to: 'To',
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  contact: 'Contact',
  'content-length': 'Content-Length',
  'content-type': 'Content-Type',
  'max-forwards': 'Max-Forwards',
  'www-authenticate': 'WWW-Authenticate',
  'proxy-authenticate': 'Proxy-Authenticate',
  'record-route': 'Record-Route',
};

export interface ParsedVia {
  /** The header value as received (one via-parm). */
  raw: string;
  transport: string;
  host: string;
  port?: number;
  branch?: string;
  /** True when the client asked for symmetric response routing (RFC 3581). */
  rport: boolean;
  /** The source port a proxy filled into rport (RFC 3581 §4), when it did. */
  rportValue?: number;
  /** The source address a proxy noted in received (RFC 3261 §18.2.1), when it did. */
  received?: string;
}

export interface SipHeaderField {
  /** Lower-case, compact forms expanded. */
  name: string;
  value: string;
}

interface SipMessageBase {
  headers: SipHeaderField[];
  body: Buffer;
  vias: ParsedVia[];
  from: NameAddrHeader;
  fromTag?: string;
  to: NameAddrHeader;
  toTag?: string;
  callId: string;
  cseq: { seq: number; method: string };
}

export interface SipRequest extends SipMessageBase {
  kind: 'request';
  method: string;
  uri: URI;
  /** The Request-URI exactly as it appeared on the request line (the digest `uri` must match it). */
  rawUri: string;
}

export interface SipResponse extends SipMessageBase {
  kind: 'response';
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** What is known about a message that failed to parse: enough to answer 400 when it was a request. */
export interface ParseFailure {
  ok: false;
  reason: string;
  /** The request method when the start line was a request line. */
  requestMethod?: string;
  headers: SipHeaderField[];
}

export type ParseResult = { ok: true; message: SipMessage } | ParseFailure;

export function headerValues(headers: SipHeaderField[], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter((h) => h.name === lower).map((h) => h.value);
}

export function headerValue(headers: SipHeaderField[], name: string): string | undefined {
  return headerValues(headers, name)[0];
}

/** Splits a header value at commas that are outside quotes and angle brackets. */
export function splitTopLevelCommas(value: string): string[] {
  const parts: string[] = [];
  let depthAngle = 0;
  let inQuotes = false;
  let current = '';
  for (let i = 0; i < value.length; i += 1) {
    const ch = value[i] ?? '';
    if (inQuotes) {
      current += ch;
      if (ch === '\\' && i + 1 < value.length) {
        current += value[i + 1];
        i += 1;
      } else if (ch === '"') inQuotes = false;
      continue;
    }
    if (ch === '"') inQuotes = true;
    else if (ch === '<') depthAngle += 1;
    else if (ch === '>') depthAngle = Math.max(0, depthAngle - 1);
    if (ch === ',' && depthAngle === 0) {
      parts.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim() !== '') parts.push(current.trim());
  return parts;
}

export function parseVia(raw: string): ParsedVia | undefined {
  const parsed: unknown = Grammar.parse(raw, 'Via');
  if (parsed === -1 || typeof parsed !== 'object' || parsed === null) return undefined;
  const via = parsed as { transport?: string; host?: string; port?: number; branch?: string };
  if (typeof via.transport !== 'string' || typeof via.host !== 'string') return undefined;
  return {
    raw,
    transport: via.transport.toUpperCase(),
    host: via.host,
    port: typeof via.port === 'number' ? via.port : undefined,
    branch: typeof via.branch === 'string' ? via.branch : undefined,
    rport: /;\s*rport\s*(=|;|$)/i.test(raw),
    rportValue: numberParam(/;\s*rport\s*=\s*(\d{1,5})/i.exec(raw)?.[1]),
    received: /;\s*received\s*=\s*([0-9a-fA-F.:[\]]+)/i.exec(raw)?.[1],
  };
}

function numberParam(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text);
}

export function parseNameAddr(value: string, rule: 'From' | 'To' | 'Contact'): NameAddrHeader | undefined {
  if (rule === 'Contact') {
    const parsed: unknown = Grammar.parse(value, 'Contact');
    if (!Array.isArray(parsed) || parsed.length !== 1) return undefined;
    return (parsed[0] as { parsed: NameAddrHeader }).parsed;
  }
  const parsed: unknown = Grammar.parse(value, rule);
  return parsed === -1 ? undefined : (parsed as NameAddrHeader);
}

export function parseUri(text: string): URI | undefined {
  return Grammar.URIParse(text);
}

/**
 * A URI's canonical text, or undefined when it cannot be written back. sip.js decodes %-escapes
 * of the user part when parsing and decodes them again in toString(): "%25zz" parses (to "%zz")
 * but then throws URIError on every toString(). Such a URI must be rejected at parse time.
 */
export function uriText(uri: URI): string | undefined {
  try {
    return uri.toString();
  } catch {
    return undefined; // URIError: the user part holds a "%" that is not a valid escape
  }
}

const MAX_CSEQ = 2 ** 31 - 1;

/**
 * Parses one datagram / WebSocket frame. Never throws: anything unusable becomes a
 * ParseFailure that says why, so the edge can answer 400 or log and drop.
 */
export function parseSipMessage(data: Buffer): ParseResult {
  const headerEnd = data.indexOf('\r\n\r\n');
  if (headerEnd < 0) return { ok: false, reason: 'no empty line ending the headers', headers: [] };
  const head = data.subarray(0, headerEnd).toString('utf8');
  const lines = head.split('\r\n');
  const startLine = lines.shift() ?? '';
  const headers: SipHeaderField[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      const last = headers[headers.length - 1];
      if (last) last.value = `${last.value} ${line.trim()}`;
      continue;
    }
    // Lines end in CRLF only: a bare CR, LF or NUL inside a header would let a value that the
    // edge copies into another message start a new header line at a more lenient parser.
    if (/[\r\n\0]/.test(line))
      return {
        ok: false,
        reason: `bare CR, LF or NUL inside a header line: ${JSON.stringify(line.slice(0, 60))}`,
        headers,
        ...requestMethodOf(startLine),
      };
    const colon = line.indexOf(':');
    if (colon <= 0)
      return {
        ok: false,
        reason: `header line without a name: "${line.slice(0, 60)}"`,
        headers,
        ...requestMethodOf(startLine),
      };
    const rawName = line.slice(0, colon).trim().toLowerCase();
    const name = COMPACT_NAMES[rawName] ?? rawName;
    const value = line.slice(colon + 1).trim();
    // Via and Contact may be comma-combined; keep one field per element.
    if (name === 'via' || (name === 'contact' && value !== '*')) {
      for (const part of splitTopLevelCommas(value)) headers.push({ name, value: part });
    } else headers.push({ name, value });
  }
  const fail = (reason: string): ParseFailure => ({
    ok: false,
    reason,
    headers,
    ...requestMethodOf(startLine),
  });

  const first: unknown = Grammar.parse(startLine, 'Request_Response');
  if (first === -1 || typeof first !== 'object' || first === null)
    return fail(`unparseable start line "${startLine.slice(0, 80)}"`);

  let body = data.subarray(headerEnd + 4);
  const contentLength = headerValue(headers, 'content-length');
  if (contentLength !== undefined) {
    if (!/^\d+$/.test(contentLength)) return fail(`bad Content-Length "${contentLength}"`);
    const length = Number(contentLength);
    if (length > body.length)
      return fail(`Content-Length ${length} exceeds the ${body.length} body bytes received`);
    body = body.subarray(0, length);
  }

  const vias: ParsedVia[] = [];
  for (const raw of headerValues(headers, 'via')) {
    const via = parseVia(raw);
    if (!via) return fail(`unparseable Via "${raw}"`);
    vias.push(via);
  }
  if (vias.length === 0) return fail('missing Via header');

  const fromText = headerValue(headers, 'from');
  if (fromText === undefined) return fail('missing From header');
  const from = parseNameAddr(fromText, 'From');
  if (!from) return fail(`unparseable From "${fromText}"`);
  if (uriText(from.uri) === undefined) return fail(`From URI with an invalid %-escape "${fromText}"`);
  const toText = headerValue(headers, 'to');
  if (toText === undefined) return fail('missing To header');
  const to = parseNameAddr(toText, 'To');
  if (!to) return fail(`unparseable To "${toText}"`);
  if (uriText(to.uri) === undefined) return fail(`To URI with an invalid %-escape "${toText}"`);
  const callId = headerValue(headers, 'call-id');
  if (callId === undefined || callId === '') return fail('missing Call-ID header');
  if (Grammar.parse(callId, 'Call_ID') === -1) return fail(`unparseable Call-ID "${callId}"`);
  const cseqText = headerValue(headers, 'cseq');
  if (cseqText === undefined) return fail('missing CSeq header');
  const cseq: unknown = Grammar.parse(cseqText, 'CSeq');
  if (cseq === -1 || typeof cseq !== 'object' || cseq === null) return fail(`unparseable CSeq "${cseqText}"`);
  const { value: seq, method: cseqMethod } = cseq as { value: number; method: string };
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_CSEQ) return fail(`CSeq number ${seq} out of range`);

  const fromTag = optionalParam(from, 'tag');
  const toTag = optionalParam(to, 'tag');
  const base = { headers, body, vias, from, fromTag, to, toTag, callId, cseq: { seq, method: cseqMethod } };

  const line = first as { method?: string; uri?: URI; status_code?: number; reason_phrase?: string };
  if (typeof line.status_code === 'number') {
    return {
      ok: true,
      message: { kind: 'response', status: line.status_code, reason: line.reason_phrase ?? '', ...base },
    };
  }
  if (typeof line.method !== 'string' || !line.uri)
    return fail(`unparseable request line "${startLine.slice(0, 80)}"`);
  if (uriText(line.uri) === undefined)
    return fail(`Request-URI with an invalid %-escape "${startLine.slice(0, 80)}"`);
  const rawUri = startLine.split(' ')[1] ?? '';
  if (cseqMethod !== line.method)
    return fail(`CSeq method ${cseqMethod} does not match request method ${line.method}`);
  const maxForwards = headerValue(headers, 'max-forwards');
  if (maxForwards !== undefined && !/^\d{1,3}$/.test(maxForwards))
    return fail(`bad Max-Forwards "${maxForwards}"`);
  return { ok: true, message: { kind: 'request', method: line.method, uri: line.uri, rawUri, ...base } };
}

function optionalParam(header: NameAddrHeader, name: string): string | undefined {
  const value: unknown = header.getParam(name);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function requestMethodOf(startLine: string): { requestMethod?: string } {
  const match = /^([A-Za-z]+) \S+ SIP\/2\.0$/.exec(startLine.trim());
  return match?.[1] ? { requestMethod: match[1].toUpperCase() } : {};
}

/** A message the edge writes: start line, ordered headers, body. Content-Length is computed. */
export interface OutgoingSip {
  startLine: string;
  headers: Array<[string, string]>;
  body?: string | Buffer;
  contentType?: string;
}

export function serialize(message: OutgoingSip): Buffer {
  const body =
    message.body === undefined
      ? Buffer.alloc(0)
      : Buffer.isBuffer(message.body)
        ? message.body
        : Buffer.from(message.body, 'utf8');
  const lines = [message.startLine];
  for (const [name, value] of message.headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'content-type') continue;
    lines.push(`${CANONICAL_NAMES[lower] ?? name}: ${value}`);
  }
  if (body.length > 0) lines.push(`Content-Type: ${message.contentType ?? 'application/sdp'}`);
  lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
}

export const REASON_PHRASES: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  183: 'Session Progress',
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  415: 'Unsupported Media Type',
  420: 'Bad Extension',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  600: 'Busy Everywhere',
  603: 'Decline',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 300 ? 'OK' : 'Error');
}

/** One log line's worth about a message; never throws (it runs outside every error handler). */
export function describe(message: SipMessage): string {
  return message.kind === 'request'
    ? `${message.method} ${uriText(message.uri) ?? JSON.stringify(message.rawUri)} (Call-ID ${message.callId}, CSeq ${message.cseq.seq})`
    : `${message.status} ${message.reason} to ${message.cseq.method} (Call-ID ${message.callId})`;
}

/** A token for tags, branches and Call-IDs (lower-case alphanumerics, 2×bytes characters). */
export function randomToken(bytes = 8): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (const byte of randomBytes(bytes * 2)) out += alphabet[byte % alphabet.length];
  return out;
}
