import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

const SUBMIT_SM = 0x00000004;
const SUBMIT_SM_RESP = 0x80000004;

/**
 * A TCP relay between the platform's connector and the carrier double that watches the SMPP
 * frames going through: submits sent minus responses returned is what the carrier has outstanding,
 * measured outside the platform. While closed it refuses connections, so a backlog can build up.
 */
export class SubmitCountingProxy {
  /** submit_sm frames from the platform, and submit_sm_resp frames from the carrier. */
  submits = 0;
  responses = 0;
  maxOutstanding = 0;
  /** Byte streams the relay could not frame (the test asserts there are none). */
  readonly framingErrors: string[] = [];
  private accepting = false;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly upstream: { host: string; port: number }) {}

  async listen(): Promise<{ host: string; port: number }> {
    const server = createServer((socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** From now on connections are relayed to the carrier. */
  open(): void {
    this.accepting = true;
  }

  get outstanding(): number {
    return this.submits - this.responses;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onConnection(platform: Socket): void {
    this.track(platform);
    if (!this.accepting) {
      platform.destroy();
      return;
    }
    const carrier = connect(this.upstream);
    this.track(carrier);
    const onError = (reason: string): void => {
      this.framingErrors.push(reason);
      platform.destroy();
    };
    const fromPlatform = frameWatcher(onError, (commandId) => {
      if (commandId !== SUBMIT_SM) return;
      this.submits += 1;
      this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    });
    const fromCarrier = frameWatcher(onError, (commandId) => {
      if (commandId === SUBMIT_SM_RESP) this.responses += 1;
    });
    platform.on('data', (chunk: Buffer) => {
      fromPlatform(chunk);
      carrier.write(chunk);
    });
    carrier.on('data', (chunk: Buffer) => {
      fromCarrier(chunk);
      platform.write(chunk);
    });
    platform.on('close', () => carrier.destroy());
    carrier.on('close', () => platform.destroy());
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => socket.destroy()); // a reset relay leg closes the other one (see onConnection)
    socket.on('close', () => this.sockets.delete(socket));
  }
}

/** Calls back with the command_id of every complete SMPP frame in a byte stream. */
function frameWatcher(
  onError: (reason: string) => void,
  onFrame: (commandId: number) => void,
): (chunk: Buffer) => void {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 8) {
      const length = buffered.readUInt32BE(0);
      if (length < 16) {
        onError(`the relay saw an SMPP frame of length ${length}`);
        buffered = Buffer.alloc(0);
        return;
      }
      if (buffered.length < length) return;
      onFrame(buffered.readUInt32BE(4));
      buffered = buffered.subarray(length);
    }
  };
}
