/**
 * Secrets never reach evidence: API keys, passwords, webhook secrets and signatures are replaced
 * by '***' in recorded headers and bodies.
 */
export const REDACTED = '***';

/**
 * Every secret value redaction has hidden in this process. After a run, `npm test` looks for
 * each of them in the reports: a secret that reached a report through any other path is found.
 */
export const redactedSecrets = new Set<string>();

/** What stands in for a secret already: ours, and the platform's audit trail's (see the contract). */
const PLACEHOLDERS = new Set([REDACTED, '[redacted]']);

function remember(value: unknown): void {
  // Short values ('', '***', a digit) would match everywhere and prove nothing; a placeholder
  // hides no secret (the audit trail shows `[redacted]` wherever a key was).
  if (typeof value === 'string' && value.length >= 6 && !PLACEHOLDERS.has(value)) redactedSecrets.add(value);
}

/** Suffix match: adminApiKey, webhookSecret, smppPassword, accessToken, clientSecret are secrets too. */
const SECRET_WORD = '(?:password|secret|api[-_]?key|token|signature|authorization)';
const SECRET_FIELD = new RegExp(`${SECRET_WORD}$`, 'i');
const SECRET_HEADER =
  /^(apikey|authorization|proxy-authorization|cookie|set-cookie|phase2-signature|x-api-key)$/i;

export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name);
}

/** A deep copy of a JSON value with every secret-named field's value replaced. */
export function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => {
        if (!isSecretField(key)) return [key, redactJson(item)];
        remember(item);
        return [key, REDACTED];
      }),
    );
  }
  return value;
}

/** Body text: JSON is redacted structurally; anything else (broken JSON) by pattern. */
export function redactText(text: string): string {
  if (text === '') return text;
  try {
    return JSON.stringify(redactJson(JSON.parse(text)), null, 2);
  } catch {
    return text.replace(
      new RegExp(`"((?:[^"\\\\]|\\\\.)*${SECRET_WORD})"(\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi'),
      `"$1"$2"${REDACTED}"`,
    );
  }
}

/** A request path with secret-named query parameters' values replaced (`?apikey=***`). */
export function redactQuery(path: string): string {
  const at = path.indexOf('?');
  if (at < 0) return path;
  const pairs = path
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const [name, ...value] = pair.split('=');
      if (value.length === 0 || !isSecretField(safeDecode(name))) return pair;
      remember(safeDecode(value.join('=')));
      return `${name}=${REDACTED}`;
    });
  return `${path.slice(0, at)}?${pairs.join('&')}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

export function redactHeaders(headers: Record<string, string | string[] | number | undefined>): string[] {
  return Object.entries(headers)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => {
      const text = Array.isArray(value) ? value.join(', ') : String(value);
      if (!SECRET_HEADER.test(name)) return `${name}: ${text}`;
      remember(text);
      return `${name}: ${REDACTED}`;
    });
}
