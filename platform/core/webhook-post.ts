/**
 * One webhook POST over node's http(s) client, with its own timeout and an abort for the
 * dispatcher's stop. The dispatcher (webhooks.ts) decides what the outcome means.
 */
import http from 'node:http';
import https from 'node:https';

/** Outcome of one HTTP attempt: a status and the start of the body, or why there was none. */
export type AttemptResult = { status: number; body: string } | { error: string };

export const ABORTED_BY_STOP = 'aborted: the dispatcher is stopping';

/**
 * One POST with node's http client (no keep-alive: each attempt stands alone). Calls `done`
 * exactly once with the status or the reason there is none; returns an abort function.
 */
export function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  done: (result: AttemptResult) => void,
): () => void {
  let finished = false;
  let request: http.ClientRequest;
  try {
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    request = client.request(
      target,
      { method: 'POST', agent: false, headers: { ...headers, 'Content-Length': Buffer.byteLength(body) } },
      (response) => {
        // Only the start of the body matters (Jasmin's "ACK/Jasmin"); the rest is drained.
        let text = '';
        response.on('data', (chunk: Buffer) => {
          if (text.length < 64) text += chunk.toString('utf8');
        });
        response.on('error', () => undefined); // a reset after the status line changes nothing: the status decided
        response.on('end', () => finish({ status: response.statusCode ?? 0, body: text.slice(0, 64) }));
      },
    );
  } catch (error) {
    done({ error: `cannot send to ${url}: ${(error as Error).message}` });
    return () => undefined;
  }
  const timer = setTimeout(() => {
    finish({ error: `no response within ${timeoutMs} ms` });
    request.destroy();
  }, timeoutMs);
  // Declared as a function so the response callback above can use it; it only runs after `timer` exists.
  function finish(result: AttemptResult): void {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    done(result);
  }
  request.on('error', (error) => finish({ error: error.message }));
  request.end(body);
  return () => {
    finish({ error: ABORTED_BY_STOP });
    request.destroy();
  };
}
