/**
 * The fault seam (issue 11): "the SIP node carrying the call crashes" is done here, and only
 * here. Embedded, the cluster's supervisor serves `POST /ops/v1/faults` and `GET /ops/v1/nodes`
 * (never a node, which may be the one crashed); against a deployment, an operator's command
 * template drives systemd, Docker or Kubernetes. Every fault is recorded in the traffic log, so
 * the ladder diagrams show it as an event between the messages it interrupted.
 */
import got from 'got';
import { traffic } from '../traffic-log';
import { commandFor, runCommand, type CommandRun } from './command-template';

/** The roles' nodes, and the store's primary (role `database`, node `primary`: hang = refuses writes). */
export const PLATFORM_ROLES = ['sip', 'media', 'smsc', 'api', 'database'] as const;
export type PlatformRole = (typeof PLATFORM_ROLES)[number];
export type FaultAction = 'crash' | 'hang' | 'recover';
/** As the seam reports it; 'activating' while a standby takes the addresses over. */
export type NodeState = 'active' | 'activating' | 'standby' | 'down' | 'hung' | 'starting';

/** A node of a role, as the seam reports it. */
export interface NodeStatus {
  role: PlatformRole;
  node: string;
  state: NodeState;
  pid: number | null;
  since: string;
  /** Writes the node still owes the store (the embedded cluster reports it): 0 queued = caught up. */
  store?: { queued: number; oldestAgeMs: number; outage: boolean };
}

/** A fault that was carried out. */
export interface InjectedFault {
  role: PlatformRole;
  /** The node's real name ('a'), or 'active' when a command cannot say which it was. */
  node: string;
  action: FaultAction;
  pid?: number;
  /**
   * Suite clock (epoch ms) when the suite asked for the fault: failover times are counted from
   * here, so the time the fault itself took is counted against the platform, never for it.
   */
  requestedAt: number;
  /** Suite clock when the seam confirmed it. */
  confirmedAt: number;
  /** What the seam answered (JSON) or printed (a command): the evidence. */
  evidence: string;
}

export interface FaultInjector {
  /** Where faults come from, for messages: "the fault endpoint http://…", "PHASE2_FAULT_COMMAND". */
  readonly source: string;
  crash(role: PlatformRole, node?: string): Promise<InjectedFault>;
  hang(role: PlatformRole, node?: string): Promise<InjectedFault>;
  recover(role: PlatformRole, node?: string): Promise<InjectedFault>;
  /** Every node and its state; undefined when the seam cannot tell (a command template). */
  nodes(): Promise<NodeStatus[] | undefined>;
}

/** The message every @failover scenario fails with when no seam is configured. */
export const FAULT_SEAM_MISSING =
  'Failover scenarios need a way to crash platform nodes, and none is configured: set PHASE2_FAULT_COMMAND ' +
  "(a command with {role} {node} {action} placeholders, e.g. 'docker kill --signal={action} phase2-{role}-{node}'; " +
  'see README.md → Failover against a deployment) or PHASE2_FAULT_URL (a supervisor serving POST /ops/v1/faults). ' +
  'The embedded target provides one by itself.';

function describeNode(role: PlatformRole, node: string): string {
  return node === 'active' ? `the active ${role} node` : `${role} node ${node}`;
}

abstract class RecordingInjector implements FaultInjector {
  abstract readonly source: string;
  protected abstract carryOut(
    role: PlatformRole,
    node: string,
    action: FaultAction,
  ): Promise<Omit<InjectedFault, 'requestedAt' | 'confirmedAt'>>;
  abstract nodes(): Promise<NodeStatus[] | undefined>;

  crash(role: PlatformRole, node = 'active'): Promise<InjectedFault> {
    return this.inject(role, node, 'crash');
  }

  hang(role: PlatformRole, node = 'active'): Promise<InjectedFault> {
    return this.inject(role, node, 'hang');
  }

  recover(role: PlatformRole, node = 'active'): Promise<InjectedFault> {
    return this.inject(role, node, 'recover');
  }

  private async inject(role: PlatformRole, node: string, action: FaultAction): Promise<InjectedFault> {
    const requestedAt = Date.now();
    try {
      const done = await this.carryOut(role, node, action);
      const fault = { ...done, requestedAt, confirmedAt: Date.now() };
      traffic.record({
        protocol: 'FAULT',
        from: 'suite (fault seam)',
        to: `platform ${role} node ${fault.node}`,
        summary: `${action} ${describeNode(role, fault.node)}${fault.pid ? ` (pid ${fault.pid})` : ''}`,
        detail: fault.evidence,
      });
      return fault;
    } catch (error) {
      traffic.record({
        protocol: 'FAULT',
        from: 'suite (fault seam)',
        to: `platform ${role} node ${node}`,
        summary: `FAILED to ${action} ${describeNode(role, node)}`,
        detail: (error as Error).message,
      });
      throw error;
    }
  }
}

/** The supervisor's fault endpoint (embedded cluster, or PHASE2_FAULT_URL). */
export class FaultEndpoint extends RecordingInjector {
  readonly source: string;

  constructor(
    private readonly baseUrl: string,
    private readonly adminApiKey: string,
    private readonly timeoutMs = 5000,
  ) {
    super();
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.source = `the fault endpoint ${this.baseUrl}/ops/v1/faults`;
  }

  protected async carryOut(role: PlatformRole, node: string, action: FaultAction) {
    const answer = await this.request('POST', '/ops/v1/faults', { role, node, action });
    const body = answer.body as { node?: unknown; pid?: unknown };
    if (answer.status !== 200 || typeof body.node !== 'string')
      throw new Error(
        `${this.source} did not ${action} ${describeNode(role, node)}: it answered ${answer.status} ${answer.text}`,
      );
    return {
      role,
      node: body.node,
      action,
      ...(typeof body.pid === 'number' ? { pid: body.pid } : {}),
      evidence: `POST /ops/v1/faults ${JSON.stringify({ role, node, action })} → ${answer.status} ${answer.text}`,
    };
  }

  async nodes(): Promise<NodeStatus[]> {
    const answer = await this.request('GET', '/ops/v1/nodes');
    const body = answer.body as { nodes?: unknown };
    if (answer.status !== 200 || !Array.isArray(body.nodes))
      throw new Error(`${this.baseUrl}/ops/v1/nodes answered ${answer.status} ${answer.text}`);
    return body.nodes as NodeStatus[];
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    json?: unknown,
  ): Promise<{ status: number; text: string; body: unknown }> {
    const response = await got(`${this.baseUrl}${path}`, {
      method,
      json,
      headers: { apikey: this.adminApiKey },
      throwHttpErrors: false,
      retry: { limit: 0 }, // a retried crash would kill the successor too
      timeout: { request: this.timeoutMs },
      responseType: 'text',
    });
    let body: unknown = {};
    try {
      body = JSON.parse(response.body) as unknown;
    } catch {
      // not JSON: the text is the evidence
    }
    return { status: response.statusCode, text: response.body.slice(0, 500), body: body ?? {} };
  }
}

/** An operator's command template (PHASE2_FAULT_COMMAND), for deployments. */
export class FaultCommand extends RecordingInjector {
  readonly source = 'PHASE2_FAULT_COMMAND';

  constructor(
    private readonly template: string,
    private readonly timeoutMs = 30_000,
  ) {
    super();
    commandFor(template, { role: 'sip', node: 'a', action: 'crash' }); // a broken template fails at once
  }

  protected async carryOut(role: PlatformRole, node: string, action: FaultAction) {
    const run = await runCommand(commandFor(this.template, { role, node, action }), this.timeoutMs);
    const evidence = describeRun(run);
    if (run.exitCode !== 0 || run.error)
      throw new Error(`PHASE2_FAULT_COMMAND did not ${action} ${describeNode(role, node)}:\n${evidence}`);
    // A command may say which node it hit and its pid as JSON on its last line: {"node":"a","pid":1}.
    const said = lastJsonLine(run.stdout);
    return {
      role,
      node: typeof said.node === 'string' ? said.node : node,
      action,
      ...(typeof said.pid === 'number' ? { pid: said.pid } : {}),
      evidence,
    };
  }

  nodes(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}

/** No seam configured: every fault fails with the one message that says what to set. */
export class NoFaultSeam implements FaultInjector {
  readonly source = 'nothing (no fault seam configured)';
  crash(): Promise<InjectedFault> {
    return Promise.reject(new Error(FAULT_SEAM_MISSING));
  }
  hang(): Promise<InjectedFault> {
    return Promise.reject(new Error(FAULT_SEAM_MISSING));
  }
  recover(): Promise<InjectedFault> {
    return Promise.reject(new Error(FAULT_SEAM_MISSING));
  }
  nodes(): Promise<undefined> {
    return Promise.reject(new Error(FAULT_SEAM_MISSING));
  }
}

/** The command's argv, exit and output, as the evidence of a remote fault. */
export function describeRun(run: CommandRun): string {
  const exit = run.error ?? (run.signal ? `killed by ${run.signal}` : `exit code ${run.exitCode}`);
  return [
    `$ ${run.argv.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : JSON.stringify(w))).join(' ')}`,
    `→ ${exit} after ${run.ms} ms`,
    ...(run.stdout.trim() ? [`stdout:\n${run.stdout.trimEnd()}`] : []),
    ...(run.stderr.trim() ? [`stderr:\n${run.stderr.trimEnd()}`] : []),
  ].join('\n');
}

function lastJsonLine(stdout: string): Record<string, unknown> {
  const last = stdout.trim().split('\n').at(-1) ?? '';
  try {
    const parsed = JSON.parse(last) as unknown;
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The seam a target has: a URL wins over a command (it can also list nodes). */
export function faultInjectorFor(
  seam: { url?: string; command?: string },
  adminApiKey: string,
  timeoutMs?: number,
): FaultInjector {
  if (seam.url) return new FaultEndpoint(seam.url, adminApiKey, timeoutMs);
  if (seam.command) return new FaultCommand(seam.command, timeoutMs);
  return new NoFaultSeam();
}
