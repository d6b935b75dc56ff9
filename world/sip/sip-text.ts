/**
 * Minimal SIP text handling for the suite side (RFC 3261 §7, §20, §25): parsing a message into
 * start line, headers and body; reading the few headers the drivers route on; one-line
 * summaries and redaction for the traffic log. Deliberately independent of the platform's code.
 */

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: SipHeaders;
  body: string;
  raw: string;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: string;
  raw: string;
}

export type SipMessage = SipRequest | SipResponse;

export class SipParseError extends Error {
  constructor(
    message: string,
    /** Set when the start line was a request line, so a 400 can be answered. */
    readonly partial?: { method?: string; headers?: SipHeaders },
  ) {
    super(message);
    this.name = 'SipParseError';
  }
}

const COMPACT_FORMS: Record<string, string> = {
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

/** Headers by lower-case full name; each entry keeps every value in order (comma lists split for Via/Route/Record-Route). */
export class SipHeaders {
  private readonly values = new Map<string, string[]>();

  static canonicalName(name: string): string {
    const lower = name.trim().toLowerCase();
    return COMPACT_FORMS[lower] ?? lower;
  }

  add(name: string, value: string): void {
    const key = SipHeaders.canonicalName(name);
    const list = this.values.get(key) ?? [];
    const parts = MULTI_VALUE.has(key) ? splitCommaList(value) : [value.trim()];
    list.push(...parts);
    this.values.set(key, list);
  }

  get(name: string): string | undefined {
    return this.values.get(SipHeaders.canonicalName(name))?.[0];
  }

  getAll(name: string): string[] {
    return [...(this.values.get(SipHeaders.canonicalName(name)) ?? [])];
  }

  has(name: string): boolean {
    return this.values.has(SipHeaders.canonicalName(name));
  }
}

const MULTI_VALUE = new Set(['via', 'route', 'record-route']);

/** Splits "a, b" at top-level commas (not inside <...> or quotes). */
export function splitCommaList(value: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const char of value) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && char === '<') depth += 1;
    else if (!quoted && char === '>') depth = Math.max(0, depth - 1);
    if (char === ',' && depth === 0 && !quoted) {
      if (current.trim()) parts.push(current.trim());
      current = '';
    } else current += char;
  }
  if (current.trim()) parts.push(current.trim());
  return parts;
}

const REQUIRED_HEADERS = ['via', 'from', 'to', 'call-id', 'cseq'];

export function parseSipMessage(raw: string): SipMessage {
  const headerEnd = raw.indexOf('\r\n\r\n');
  const lfHeaderEnd = headerEnd < 0 ? raw.indexOf('\n\n') : -1;
  if (headerEnd < 0 && lfHeaderEnd < 0) throw new SipParseError('no blank line ends the header section');
  const head = headerEnd >= 0 ? raw.slice(0, headerEnd) : raw.slice(0, lfHeaderEnd);
  let body = headerEnd >= 0 ? raw.slice(headerEnd + 4) : raw.slice(lfHeaderEnd + 2);
  const lines = head.split(/\r?\n/);
  const startLine = lines.shift() ?? '';
  const headers = new SipHeaders();
  // Header folding: a line starting with whitespace continues the previous header.
  const unfolded: string[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && unfolded.length > 0) unfolded[unfolded.length - 1] += ` ${line.trim()}`;
    else unfolded.push(line);
  }
  const requestLine = /^([A-Za-z]+) (\S+) SIP\/2\.0$/.exec(startLine);
  const statusLine = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(startLine);
  const partial = requestLine ? { method: requestLine[1], headers } : undefined;
  for (const line of unfolded) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError(`malformed header line "${line}"`, partial);
    headers.add(line.slice(0, colon), line.slice(colon + 1));
  }
  if (!requestLine && !statusLine)
    throw new SipParseError(`"${startLine.slice(0, 80)}" is neither a request line nor a status line`);
  for (const name of REQUIRED_HEADERS) {
    if (!headers.has(name)) throw new SipParseError(`mandatory header ${name} is missing`, partial);
  }
  if (!/^\d+ [A-Za-z]+$/.test(headers.get('cseq') ?? ''))
    throw new SipParseError(`malformed CSeq "${headers.get('cseq')}"`, partial);
  const contentLength = headers.get('content-length');
  if (contentLength !== undefined) {
    const length = Number(contentLength);
    if (!Number.isInteger(length) || length < 0)
      throw new SipParseError(`malformed Content-Length "${contentLength}"`, partial);
    const bodyBytes = Buffer.from(body, 'utf8');
    if (bodyBytes.length < length)
      throw new SipParseError(
        `body of ${bodyBytes.length} bytes is shorter than Content-Length ${length}`,
        partial,
      );
    body = bodyBytes.subarray(0, length).toString('utf8');
  }
  if (requestLine)
    return { kind: 'request', method: requestLine[1].toUpperCase(), uri: requestLine[2], headers, body, raw };
  if (!statusLine) throw new SipParseError('unreachable'); // narrowed above
  return { kind: 'response', status: Number(statusLine[1]), reason: statusLine[2], headers, body, raw };
}

export interface SipUri {
  scheme: string;
  user: string | null;
  host: string;
  port: number | null;
  params: Map<string, string | null>;
}

/** Parses sip:user@host:port;params (headers after '?' are ignored). */
export function parseSipUri(text: string): SipUri {
  const match = /^(sips?|tel):(?:([^@;?]+)@)?(\[[^\]]+\]|[^:;?>]+)(?::(\d+))?((?:;[^?]*)?)/i.exec(
    text.trim(),
  );
  if (!match) throw new SipParseError(`"${text}" is not a SIP URI`);
  const params = new Map<string, string | null>();
  for (const param of match[5].split(';').filter(Boolean)) {
    const [name, value] = param.split('=');
    params.set(name.toLowerCase(), value ?? null);
  }
  return {
    scheme: match[1].toLowerCase(),
    user: match[2] ? decodeURIComponent(match[2].split(':')[0]) : null,
    host: match[3],
    port: match[4] ? Number(match[4]) : null,
    params,
  };
}

export interface NameAddr {
  displayName: string | null;
  uri: string;
  params: Map<string, string | null>;
}

/** Parses `"Display" <sip:...>;tag=x` or a bare `sip:...;tag=x` (From, To, Contact, PAI, Route). */
export function parseNameAddr(text: string): NameAddr {
  const value = text.trim();
  const angle = /^(?:"((?:[^"\\]|\\.)*)"|([^<]*?))\s*<([^>]*)>(.*)$/.exec(value);
  let uri: string;
  let rest: string;
  let displayName: string | null = null;
  if (angle) {
    displayName = angle[1] ?? (angle[2]?.trim() || null);
    uri = angle[3];
    rest = angle[4];
  } else {
    // Without angle brackets, parameters after ';' belong to the header, not the URI.
    const semicolon = value.indexOf(';');
    uri = semicolon < 0 ? value : value.slice(0, semicolon);
    rest = semicolon < 0 ? '' : value.slice(semicolon);
  }
  const params = new Map<string, string | null>();
  for (const param of rest
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, paramValue] = param.split('=');
    params.set(name.toLowerCase(), paramValue ?? null);
  }
  return { displayName, uri, params };
}

export interface Via {
  transport: string;
  host: string;
  port: number | null;
  params: Map<string, string | null>;
}

export function parseVia(text: string): Via {
  const match = /^SIP\s*\/\s*2\.0\s*\/\s*(\S+)\s+(\[[^\]]+\]|[^:;\s]+)(?::(\d+))?\s*((?:;.*)?)$/i.exec(
    text.trim(),
  );
  if (!match) throw new SipParseError(`malformed Via "${text}"`);
  const params = new Map<string, string | null>();
  for (const param of match[4]
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, value] = param.split('=');
    params.set(name.toLowerCase(), value ?? null);
  }
  return {
    transport: match[1].toUpperCase(),
    host: match[2],
    port: match[3] ? Number(match[3]) : null,
    params,
  };
}

/** Where RFC 3261 §18.2.2 / RFC 3581 say a response goes: received/rport over sent-by. */
export function responseDestination(via: Via): { host: string; port: number } {
  const received = via.params.get('received');
  const rport = via.params.get('rport');
  return {
    host: received ?? via.host,
    port: rport ? Number(rport) : (via.port ?? 5060),
  };
}

/** "INVITE sip:+1555@host (Call-ID 1a2b3c4d)" or "180 Ringing (Call-ID 1a2b3c4d)". */
export function summarizeSip(text: string): string {
  const startLine = text.slice(0, Math.max(0, text.indexOf('\n')) || text.length).trim();
  const callId = /^(?:Call-ID|i)\s*:\s*(\S+)/im.exec(text)?.[1];
  const shortLine = startLine.startsWith('SIP/2.0 ')
    ? startLine.slice(8)
    : startLine.replace(/ SIP\/2\.0$/, '');
  const cseq = /^CSeq\s*:\s*(.+)$/im.exec(text)?.[1]?.trim();
  const forMethod = startLine.startsWith('SIP/2.0 ') && cseq ? ` [${cseq}]` : '';
  return `${shortLine}${forMethod}${callId ? ` (Call-ID ${callId.slice(0, 8)})` : ''}`;
}

/** Hides digest response values (and any cleartext password) in Authorization headers. */
export function redactSip(text: string): string {
  return text.replace(/^((?:Proxy-)?Authorization\s*:.*)$/gim, (line) =>
    line
      .replace(/(\bresponse\s*=\s*)"[^"]*"/gi, '$1"<redacted>"')
      .replace(/(\bresponse\s*=\s*)([^",\s]+)/gi, '$1<redacted>'),
  );
}

export function randomToken(bytes = 8): string {
  let token = '';
  for (let i = 0; i < bytes; i += 1)
    token += Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0');
  return token;
}
