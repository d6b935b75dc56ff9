import { createSocket, type Socket } from 'node:dgram';
import { Observed } from '../observed';
import { redactSip } from '../sip/sip-text';
import { traffic } from '../traffic-log';

/**
 * A bare UDP socket that sends hand-written SIP text, for what no well-behaved user agent
 * would send (garbled requests, missing headers). Responses are collected as they arrive.
 */
export class SipDatagramProbe {
  readonly responses = new Observed<{ statusLine: string; text: string }>((r) => r.statusLine);
  /** Socket errors after opening (an ICMP port unreachable, a failed send): evidence for failures. */
  readonly errors = new Observed<string>((e) => e);
  private socket?: Socket;

  constructor(private readonly actor: string) {}

  async open(bindHost = '127.0.0.1'): Promise<number> {
    if (this.socket) return this.socket.address().port;
    const socket = createSocket('udp4');
    socket.on('message', (buffer) => {
      const text = buffer.toString('utf8');
      const statusLine = text.split('\r\n', 1)[0];
      traffic.record({
        protocol: 'SIP',
        from: 'platform SIP',
        to: this.actor,
        summary: statusLine,
        detail: redactSip(text),
      });
      this.responses.add({ statusLine, text });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, bindHost, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      socket.close();
      throw new Error(
        `${this.actor}: could not bind a UDP socket on ${bindHost}: ${(error as Error).message}`,
      );
    }
    // Always listening: an unhandled 'error' would crash the worker.
    socket.on('error', (error) => {
      const description = `UDP socket error: ${error.message}`;
      traffic.record({ protocol: 'SIP', from: this.actor, to: this.actor, summary: description });
      this.errors.add(description);
    });
    this.socket = socket;
    return socket.address().port;
  }

  port(): number {
    if (!this.socket) throw new Error(`${this.actor}: probe not open`);
    return this.socket.address().port;
  }

  async send(text: string, to: { host: string; port: number }): Promise<void> {
    if (!this.socket) throw new Error(`${this.actor}: probe not open`);
    traffic.record({
      protocol: 'SIP',
      from: this.actor,
      to: 'platform SIP',
      summary: text.split('\r\n', 1)[0],
      detail: redactSip(text),
    });
    const socket = this.socket;
    await new Promise<void>((done, fail) =>
      socket.send(text, to.port, to.host, (error) =>
        error
          ? fail(new Error(`${this.actor}: UDP send to ${to.host}:${to.port} failed: ${error.message}`))
          : done(),
      ),
    );
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    return socket ? new Promise((done) => socket.close(() => done())) : Promise.resolve();
  }
}
