/** Probes that need no driver: each stops at once, releasing its socket, when its signal aborts. */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, isIP } from 'node:net';
import WebSocket from 'ws';
import type { HostPort } from '../../support/config';
import { TimedOut } from './outcome';

/** Rejects with the signal's reason when aborted; runs `stop` first to release the socket. */
export function onAbort(signal: AbortSignal, stop: () => void, reject: (error: Error) => void): void {
  signal.addEventListener('abort', () => {
    stop();
    reject(new TimedOut('aborted'));
  });
}

export function tcpProbe(host: string, port: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const socket = tcpConnect({ host, port });
    onAbort(signal, () => socket.destroy(), reject);
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise();
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

/** Resolves once `condition` holds (checked every 20 ms): a wait that, unlike Observed's, can be aborted. */
export function until(condition: () => boolean, signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const poll = (): void => {
      if (!condition()) return;
      clearInterval(timer);
      resolvePromise();
    };
    const timer = setInterval(poll, 20);
    onAbort(signal, () => clearInterval(timer), reject);
    poll();
  });
}

/**
 * UDP cannot be proven by a connect: send a real OPTIONS and wait for any SIP response. The
 * socket is connected, so an ICMP port unreachable comes back as ECONNREFUSED at once.
 */
export function sipOptions(target: HostPort, domain: string, signal: AbortSignal): Promise<string> {
  const socket = createSocket(isIP(target.host) === 6 ? 'udp6' : 'udp4');
  const callId = `preflight-${randomBytes(8).toString('hex')}`;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    try {
      socket.close();
    } catch {
      // already closed by the runtime after an error
    }
  };
  return new Promise<string>((resolvePromise, reject) => {
    onAbort(signal, close, reject);
    socket.on('error', reject);
    socket.on('message', (datagram) => {
      const text = datagram.toString('utf8');
      if (text.startsWith('SIP/2.0 ') && text.includes(callId)) resolvePromise(text.split('\r\n', 1)[0]);
    });
    socket.connect(target.port, target.host, () => {
      if (closed) return; // aborted while the host name was being resolved
      const local = socket.address();
      const via =
        local.family === 'IPv6' ? `[${local.address}]:${local.port}` : `${local.address}:${local.port}`;
      const host = domain || target.host;
      const message = [
        `OPTIONS sip:${host} SIP/2.0`,
        `Via: SIP/2.0/UDP ${via};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
        'Max-Forwards: 70',
        `From: <sip:preflight@${host}>;tag=${randomBytes(4).toString('hex')}`,
        `To: <sip:${host}>`,
        `Call-ID: ${callId}`,
        'CSeq: 1 OPTIONS',
        `Contact: <sip:preflight@${via}>`,
        'Accept: application/sdp',
        'User-Agent: phase2-acceptance preflight',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      socket.send(message, (error) => {
        if (error) reject(error);
      });
    });
  }).finally(close);
}

export function wsHandshake(url: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const socket = new WebSocket(url, 'sip');
    onAbort(signal, () => socket.terminate(), reject);
    socket.once('open', () => {
      const confirmed = socket.protocol === 'sip';
      socket.terminate(); // nothing to say on it; a close handshake would only add a wait
      if (confirmed) resolvePromise();
      else reject(new Error('the server did not confirm the subprotocol "sip"'));
    });
    socket.once('error', (error) => {
      socket.terminate();
      reject(error);
    });
  });
}
