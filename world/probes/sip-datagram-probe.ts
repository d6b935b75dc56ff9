import { createSocket, type Socket } from 'node:dgram';
import { Observed } from '../observed';
import { traffic } from '../traffic-log';

/**
 * A bare UDP socket that sends hand-written SIP text, for what no well-behaved user agent
 * would send (garbled requests, missing headers). Responses are collected as they arrive.
 */
export class SipDatagramProbe {
  readonly responses = new Observed<{ statusLine: string; text: string }>((r) => r.statusLine);
  private socket?: Socket;

  constructor(private readonly actor: string) {}

  async open(): Promise<number> {
    const socket = createSocket('udp4');
    socket.on('message', (buffer) => {
      const text = buffer.toString('utf8');
      const statusLine = text.split('\r\n', 1)[0];
      traffic.record({
        protocol: 'SIP',
        from: 'platform SIP',
        to: this.actor,
        summary: statusLine,
        detail: text,
      });
      this.responses.add({ statusLine, text });
    });
    await new Promise<void>((done) => socket.bind(0, '127.0.0.1', done));
    this.socket = socket;
    return socket.address().port;
  }

  port(): number {
    if (!this.socket) throw new Error('probe not open');
    return this.socket.address().port;
  }

  async send(text: string, to: { host: string; port: number }): Promise<void> {
    if (!this.socket) throw new Error('probe not open');
    traffic.record({
      protocol: 'SIP',
      from: this.actor,
      to: 'platform SIP',
      summary: text.split('\r\n', 1)[0],
      detail: text,
    });
    const socket = this.socket;
    await new Promise<void>((done, fail) =>
      socket.send(text, to.port, to.host, (error) => (error ? fail(error) : done())),
    );
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    return socket ? new Promise((done) => socket.close(() => done())) : Promise.resolve();
  }
}
