/**
 * The relay's ng control listener. A command retransmitted with the same cookie (the controller
 * did not hear the reply) is answered with the cached reply, never executed twice: an "offer"
 * run again would allocate nothing new, but a "delete" run again would answer "Unknown call-id".
 */
import dgram from 'node:dgram';
import { formatNgMessage, ngError, parseNgMessage, type NgDict } from './ng-protocol';

/** How long a reply is kept for retransmissions (rtpengine keeps its cookie cache about as long). */
const REPLY_CACHE_MS = 30_000;

export interface NgServer {
  address: { host: string; port: number };
  close(): Promise<void>;
}

export function startNgServer(
  host: string,
  port: number,
  execute: (command: NgDict) => Promise<NgDict>,
  log: (message: string) => void,
): Promise<NgServer> {
  const socket = dgram.createSocket('udp4');
  const replies = new Map<string, { reply: Promise<Buffer>; at: number }>();

  const forget = (now: number): void => {
    for (const [cookie, entry] of replies) {
      if (now - entry.at < REPLY_CACHE_MS) break; // insertion order: the rest are younger
      replies.delete(cookie);
    }
  };

  socket.on('message', (datagram, source) => {
    let cookie: string;
    let body: NgDict;
    try {
      ({ cookie, body } = parseNgMessage(datagram));
    } catch (error) {
      // Without a cookie there is nobody to answer: log what arrived and from where.
      log(`ng from ${source.address}:${source.port}: ${(error as Error).message}; dropped`);
      return;
    }
    const now = Date.now();
    forget(now);
    let entry = replies.get(cookie);
    if (!entry) {
      const reply = execute(body)
        .catch((error: unknown) => ngError(`internal error: ${(error as Error).message}`))
        .then((dict) => formatNgMessage(cookie, dict));
      entry = { reply, at: now };
      replies.set(cookie, entry);
    }
    void entry.reply.then((reply) =>
      socket.send(reply, source.port, source.address, (error) => {
        if (error) log(`ng reply to ${source.address}:${source.port} failed: ${error.message}`);
      }),
    );
  });

  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      socket.on('error', (error) => log(`ng socket: ${error.message}`));
      const bound = socket.address().port;
      resolve({
        address: { host, port: bound },
        close: () =>
          new Promise<void>((done) => {
            replies.clear();
            socket.close(() => done());
          }),
      });
    });
  });
}
