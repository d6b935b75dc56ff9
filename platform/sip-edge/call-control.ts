/**
 * Live call control (the API's list, hang-up, hold, transfer) for an API that runs in another
 * process than the sip-edge, as in the redundant topology:
 * - what is live is read from the dialogs the edge replicates (dialog-store.ts), so listing
 *   needs no round trip and shows the same calls whichever edge node carries them;
 * - commands go to the ACTIVE edge node over an internal HTTP port on loopback
 *   (serveCallControl), the way Kamailio's JSON-RPC (jsonrpcs) lets an operator act on dialogs;
 *   in an active-active edge, to the node carrying the call (its stored dialog's owner).
 * Hang-up and hold answer as soon as the command is handed over (the contract is synchronous);
 * a command the edge cannot take is logged. Transfer waits for the edge's outcome.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LiveCallControl, LiveCallResource } from '../contracts';
import type { Db } from '../store/store';
import { storedCallOwner, storedLiveCalls } from './dialog-store';

type TransferOutcome = Awaited<ReturnType<LiveCallControl['transfer']>>;

/** The request body of every command: the customer, the call, and what to do. */
interface Command {
  customerId: string;
  callRef: string;
  held?: boolean;
  target?: string;
}

/** Largest command body accepted (a few ids): anything bigger is not ours. */
const MAX_BODY_BYTES = 4096;

export interface CallControlServer {
  port: number;
  stop(): Promise<void>;
}

/** Serves `control` (the edge's own live call control) on host:port for the API nodes. */
export async function serveCallControl(
  host: string,
  port: number,
  control: LiveCallControl,
  log: (message: string) => void,
): Promise<CallControlServer> {
  const server = http.createServer((request, response) => {
    const reply = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const action = /^\/v1\/calls\/(hangup|hold|transfer)$/.exec(request.url ?? '')?.[1];
    if (request.method !== 'POST' || action === undefined) return reply(404, { error: 'no such command' });
    readJson(request)
      .then(commandFrom)
      .then(async (command) => {
        if (action === 'hangup')
          return reply(200, { ok: control.hangup(command.customerId, command.callRef) });
        if (action === 'hold')
          return reply(200, {
            call: control.setHeld(command.customerId, command.callRef, command.held === true) ?? null,
          });
        const outcome = await control.transfer(command.customerId, command.callRef, command.target ?? '');
        return reply(200, { outcome });
      })
      .catch((error: unknown) => {
        log(`call control ${action}: ${(error as Error).message}`);
        reply(400, { error: (error as Error).message });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log(`live call control for API nodes on http://${host}:${bound}`);
  return {
    port: bound,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** LiveCallControl for an API node: reads the replicated dialogs, sends commands to the edge. */
export class RemoteLiveCalls implements LiveCallControl {
  /** `nodes`: an active-active edge's control addresses by node name; `edge` serves the rest. */
  constructor(
    private readonly db: Db,
    private readonly edge: { host: string; port: number },
    private readonly log: (message: string) => void,
    private readonly nodes: Record<string, { host: string; port: number }> = {},
  ) {}

  list(customerId: string): LiveCallResource[] {
    return storedLiveCalls(this.db, customerId);
  }

  hangup(customerId: string, callRef: string): boolean {
    if (!this.find(customerId, callRef)) return false;
    this.handOver('hangup', { customerId, callRef });
    return true;
  }

  setHeld(customerId: string, callRef: string, held: boolean): LiveCallResource | undefined {
    const call = this.find(customerId, callRef);
    if (!call || call.state !== 'answered') return undefined;
    this.handOver('hold', { customerId, callRef, held });
    return { ...call, held };
  }

  async transfer(customerId: string, callRef: string, target: string): Promise<TransferOutcome> {
    if (!this.find(customerId, callRef)) return 'no-such-call';
    const answer = (await this.post('transfer', { customerId, callRef, target })) as {
      outcome?: TransferOutcome;
    };
    if (answer.outcome === undefined) throw new Error(`the sip-edge gave no transfer outcome for ${callRef}`);
    return answer.outcome;
  }

  private find(customerId: string, callRef: string): LiveCallResource | undefined {
    return this.list(customerId).find((c) => c.id === callRef);
  }

  private handOver(action: string, command: Command): void {
    this.post(action, command).catch((error: unknown) =>
      this.log(
        `live call ${command.callRef}: ${action} not taken by the sip-edge: ${(error as Error).message}`,
      ),
    );
  }

  private post(action: string, command: Command): Promise<unknown> {
    const owner = storedCallOwner(this.db, command.callRef);
    const edge = (owner !== undefined ? this.nodes[owner] : undefined) ?? this.edge;
    const where = `http://${edge.host}:${edge.port}/v1/calls/${action}`;
    return new Promise((resolve, reject) => {
      const request = http.request(
        where,
        { method: 'POST', headers: { 'content-type': 'application/json' }, timeout: 5000 },
        (response) => {
          readJson(response).then((body) => {
            if (response.statusCode === 200) resolve(body);
            else reject(new Error(`${where} answered ${response.statusCode}: ${JSON.stringify(body)}`));
          }, reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`${where}: no answer within 5 s`)));
      request.on('error', (error) => reject(new Error(`${where}: ${error.message}`)));
      request.end(JSON.stringify(command));
    });
  }
}

function commandFrom(body: Record<string, unknown>): Command {
  const { customerId, callRef, held, target } = body;
  if (typeof customerId !== 'string' || typeof callRef !== 'string')
    throw new Error('a command names the customerId and the callRef');
  return {
    customerId,
    callRef,
    held: typeof held === 'boolean' ? held : undefined,
    target: typeof target === 'string' ? target : undefined,
  };
}

function readJson(stream: NodeJS.ReadableStream): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new Error(`body over ${MAX_BODY_BYTES} bytes`));
      else chunks.push(chunk);
    });
    stream.on('error', reject);
    stream.on('end', () => {
      try {
        const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (typeof value !== 'object' || value === null) throw new Error('the body is not a JSON object');
        resolve(value as Record<string, unknown>);
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}
