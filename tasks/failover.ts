import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import type { InjectedFault, PlatformRole } from '../world/faults/fault-injector';
import { traffic } from '../world/traffic-log';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { recordMetric } from '../reporting/metrics';
import { audioSnapshot } from './audio';
import { describeEvidence, PLATFORM_LOG, type Evidence } from './waiting';

/**
 * The fault seam as the scenarios use it, and the failover time measured the way a customer
 * feels it: from the crash to the first success of a new call, text or request through the same
 * address. The plan's target bounds every wait for service to come back.
 */

/** The plan's success metric: "failover time < 30 seconds". */
export const FAILOVER_TARGET_MS = 30_000;
/** Step timeout of steps that may wait the whole failover target (Cucumber's default is 30 s). */
export const FAILOVER_STEP_TIMEOUT_MS = FAILOVER_TARGET_MS + 15_000;

/** How the features name a role's nodes. */
export const ROLE_WORDS: Readonly<Record<PlatformRole, string>> = {
  sip: 'SIP node',
  media: 'media relay',
  smsc: 'SMSC node',
  api: 'API gateway node',
  database: 'database',
};

/** Where a role's failures show up. */
const ROLE_EVIDENCE: Readonly<Record<PlatformRole, Evidence[]>> = {
  sip: [EVIDENCE.SIP, EVIDENCE.FAULT, PLATFORM_LOG],
  media: [EVIDENCE.RTP, EVIDENCE.FAULT, PLATFORM_LOG],
  smsc: [EVIDENCE.SMPP, EVIDENCE.FAULT, PLATFORM_LOG],
  api: [EVIDENCE.HTTP, EVIDENCE.FAULT, PLATFORM_LOG],
  database: [EVIDENCE.HTTP, EVIDENCE.FAULT, PLATFORM_LOG],
};

/**
 * When the {role} carrying the call crashes / the active {role} crashes. With one active node per
 * role, the active node is the one carrying every call and text. The nodes are listed first (when
 * the seam can), so the evidence says which node carried what; a call's counters are noted, so
 * the audio heard after the crash can be told from the audio before it.
 */
export async function crashActiveNode(
  world: Phase2World,
  role: PlatformRole,
  action: 'crash' | 'hang' = 'crash',
): Promise<InjectedFault> {
  const nodesBefore = await world.env.faults.nodes();
  const call = world.voice.call;
  if (call?.farEnd)
    world.failover.audioAtFault = audioSnapshot(
      { name: call.caller.name, rtp: call.call.rtp },
      { name: call.callee.name, rtp: call.farEnd.rtp },
    );
  const active = nodesBefore?.find((n) => n.role === role && n.state === 'active');
  if (active) {
    const others = nodesBefore?.filter((n) => n.role === role && n !== active) ?? [];
    // Who carried what: everything above on the role's addresses went through this node.
    traffic.record({
      protocol: 'FAULT',
      from: `platform ${role} node ${active.node}`,
      to: `platform ${role} node ${active.node}`,
      summary: `active since ${active.since}: carries the ${ROLE_WORDS[role]}'s traffic above; ${others.map((n) => `${n.node} ${n.state}`).join(', ') || 'no other node'}`,
    });
  }
  world.failover.trafficAtFault = traffic.mark();
  // A hung node (SIGSTOP) still holds its addresses: the standby must fence it to take over.
  const fault = await (action === 'crash'
    ? world.env.faults.crash(role, 'active')
    : world.env.faults.hang(role, 'active'));
  if (nodesBefore)
    expect(
      fault.node,
      `the ${ROLE_WORDS[role]} that was made to ${action}: the one the platform listed as active (see "Platform nodes")`,
    ).to.equal(active?.node);
  world.failover.faults.push({ ...fault, ...(nodesBefore ? { nodesBefore } : {}) });
  attachJson(world, 'Platform nodes', { before: nodesBefore ?? 'the fault seam cannot list nodes', fault });
  return fault;
}

/** The latest fault of a role in this scenario. */
export function latestFault(world: Phase2World, role: PlatformRole): InjectedFault {
  const fault = world.failover.faults.filter((f) => f.role === role).at(-1);
  if (!fault) throw new Error(`No ${ROLE_WORDS[role]} has crashed in this scenario yet.`);
  return fault;
}

/** The first success of `attempt` after the crash, and when it came. */
export interface FirstSuccess<T> {
  value: T;
  /** Crash (the suite's request to the seam) → this success, ms. */
  ms: number;
  attempts: number;
}

/**
 * Tries `attempt` again and again — each one real traffic through the same address, bounded on
 * its own — until one succeeds or the plan's failover target has passed since the crash. The
 * success is recorded as the role's failover time; the failure names every kind of error seen.
 */
export async function firstSuccessAfterCrash<T>(
  world: Phase2World,
  role: PlatformRole,
  what: string,
  attempt: (n: number) => Promise<T>,
): Promise<FirstSuccess<T>> {
  const fault = latestFault(world, role);
  const deadline = fault.requestedAt + FAILOVER_TARGET_MS;
  const errors = new Map<string, number>();
  for (let n = 1; ; n += 1) {
    const startedAt = Date.now();
    try {
      const value = await attempt(n);
      const ms = Date.now() - fault.requestedAt;
      recordMetric(world, { kind: 'failover', role, name: `${ROLE_WORDS[role]} crash → ${what}`, ms });
      await noteTakeover(world, role, `${what} after ${ms} ms`);
      return { value, ms, attempts: n };
    } catch (error) {
      const line = (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 200);
      errors.set(line, (errors.get(line) ?? 0) + 1);
    }
    if (Date.now() >= deadline) {
      const seen = [...errors].map(([line, times]) => `  - ${times}× ${line}`).join('\n');
      throw new Error(
        `No ${what} within ${FAILOVER_TARGET_MS / 1000} s of the ${fault.action} of ${ROLE_WORDS[role]} ${fault.node} ` +
          `(${n} attempts through the same address). What the attempts met:\n${seen}\n` +
          `Look at: ${describeEvidence(world, ROLE_EVIDENCE[role])} and the nodes in "Platform nodes".`,
      );
    }
    // An attempt refused at once (nobody on the address yet) must not spin: a 50 ms pace.
    const spent = Date.now() - startedAt;
    if (spent < 50) await new Promise((done) => setTimeout(done, 50 - spent));
  }
}

/** The ladders show who took over: the node now active for the role, as the seam lists it. */
async function noteTakeover(world: Phase2World, role: PlatformRole, what: string): Promise<void> {
  const nodes = await world.env.faults.nodes();
  const active = nodes?.find((n) => n.role === role && n.state === 'active');
  traffic.record({
    protocol: 'FAULT',
    from: `platform ${role} node ${active?.node ?? '(survivor)'}`,
    to: `platform ${role} node ${active?.node ?? '(survivor)'}`,
    summary: `serving again: ${what}${active ? ` (${role} node ${active.node} active since ${active.since})` : ''}`,
  });
  attachJson(world, 'Platform nodes after the takeover', nodes ?? 'the fault seam cannot list nodes');
}

/** Waits out an attempt's own bound: what an attempt that never answers is judged by. */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
