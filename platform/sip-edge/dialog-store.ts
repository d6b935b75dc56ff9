/**
 * The B2BUA's calls in the shared store (Kamailio's dialog replication, done the way db_mode
 * "realtime" does it): a call is written when its caller's INVITE is taken on, again when it
 * changes (callee invited, answered, a relayed re-INVITE spent a CSeq, hold, transfer) and
 * deleted when it ends. A sip-edge node that takes over the edge's address loads what its
 * predecessor left (CallManager.restore):
 * - confirmed: both legs (Call-IDs, tags, CSeqs, targets, flows), the relay's call reference and
 *   the CDR's facts come back, so either side's BYE is passed on and the CDR written once;
 * - setup: the caller's INVITE and the callee's INVITE branch come back, so the caller gets a
 *   final answer and the callee a CANCEL (or ACK and BYE if it answers after all);
 * - local (answered by the platform's own media, which died with the node): ended with BYE.
 * Legs over WebSocket cannot come back (the connection died with the node): such a call is
 * recorded and ended from the side that can still be reached.
 *
 * In an active-active edge (several sip nodes at their own addresses behind Kamailio's
 * dispatcher) each row names its owner, the node carrying the call; a survivor claims the rows
 * of a dead peer (`claim`) instead of loading everything.
 */
import type { LiveCallResource } from '../contracts';
import type { Db } from '../store/store';
import { writeBehind } from '../store/write-behind';
import type { Call, CallReplication, DialogPhase, RestoredCall } from './calls';
import type { DialogLeg, SentInvite } from './dialog';
import type { RelayCallState } from './relay-call';
import { headerValue, parseSipMessage, serialize, type SipHeaderField, type SipRequest } from './message';
import type { Flow } from './transport';

interface StoredFlow {
  transport: Flow['transport'];
  address: string;
  port: number;
}

type StoredLeg = Omit<DialogLeg, 'flow'> & { flow: StoredFlow };

interface DialogRow {
  call_ref: string;
  phase: DialogPhase;
  state: string;
}

/** What the store keeps of a call (JSON in sip_dialogs.state). */
interface CallSnapshot {
  ref: string;
  sipCallId: string;
  state: Call['state'];
  direction: Call['direction'];
  customerId: string;
  caller: string;
  callee: string;
  trunkId: string | null;
  forwardedTo: string | null;
  transferredTo: string | null;
  startedAt: string;
  answeredAt: string | null;
  a: StoredLeg;
  b: StoredLeg | null;
  inviteA: { method: string; rawUri: string; headers: SipHeaderField[]; body: string };
  inviteB: SentInvite | null;
  ackBSent: boolean;
  /** The call's media at the relay: its ng identity (call-id, tags) and the SDPs seen. */
  relay: RelayCallState | null;
}

export class DialogStore implements CallReplication {
  /** `owner`: this node's name in an active-active edge; undefined for the edge's single active node. */
  constructor(
    private readonly db: Db,
    private readonly log: (message: string) => void,
    private readonly owner?: string,
  ) {}

  /**
   * Writes the call's current state (insert or replace). When the store refuses writes only the
   * newest state waits (write-behind), so the call never stalls on its replication.
   */
  save(call: Call): void {
    const state = JSON.stringify(snapshotOf(call));
    const phase = phaseOf(call);
    const at = new Date().toISOString();
    try {
      writeBehind(this.db, this.log).runLatest(`dialog:${call.ref}`, `dialog of call ${call.ref}`, () => {
        this.db
          .prepare(
            `INSERT INTO sip_dialogs (call_ref, phase, state, updated_at, owner) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (call_ref) DO UPDATE SET phase = excluded.phase, state = excluded.state,
               updated_at = excluded.updated_at, owner = excluded.owner`,
          )
          .run(call.ref, phase, state, at, this.owner ?? null);
      });
    } catch (error) {
      // The call goes on without replication: a failover would lose it, nothing else would.
      this.log(`call ${call.ref}: storing its dialog failed: ${(error as Error).message}`);
    }
  }

  /** The call ended: nothing is left for a successor to do. Queued behind the call's record. */
  forget(callRef: string): void {
    try {
      writeBehind(this.db, this.log).run(`forget dialog of call ${callRef}`, () => {
        this.db.prepare('DELETE FROM sip_dialogs WHERE call_ref = ?').run(callRef);
      });
    } catch (error) {
      this.log(`call ${callRef}: deleting its stored dialog failed: ${(error as Error).message}`);
    }
  }

  /**
   * Every call a previous node left, rebuilt. `relayFor` gives the relay handle for the stored
   * ng identity. Rows that cannot be read are logged and dropped.
   */
  load(relayFor: (state: RelayCallState) => Call['relay']): RestoredCall[] {
    const rows = this.db.prepare('SELECT call_ref, phase, state FROM sip_dialogs').all() as DialogRow[];
    // A node of an active-active edge adopts what it restores: the rows become its own.
    if (this.owner !== undefined) this.db.prepare('UPDATE sip_dialogs SET owner = ?').run(this.owner);
    return this.rebuild(rows, relayFor);
  }

  /**
   * Active-active edge: takes over every call `peer` carried (it is dead and fenced), in one
   * statement so two survivors never both adopt a call, and rebuilds them.
   */
  claim(peer: string, relayFor: (state: RelayCallState) => Call['relay']): RestoredCall[] {
    if (this.owner === undefined)
      throw new Error('claim: this sip node has no name in an active-active edge');
    const rows = this.db
      .prepare('UPDATE sip_dialogs SET owner = ? WHERE owner = ? RETURNING call_ref, phase, state')
      .all(this.owner, peer) as DialogRow[];
    return this.rebuild(rows, relayFor);
  }

  /**
   * Which node carries the call one of whose legs has this Call-ID (undefined: none stored, or
   * this node's). For a request a dead peer's dialog brought here before its calls were claimed.
   */
  ownerOf(callId: string): string | undefined {
    const row = this.db
      .prepare(
        `SELECT owner FROM sip_dialogs
         WHERE json_extract(state, '$.a.callId') = ? OR json_extract(state, '$.b.callId') = ? LIMIT 1`,
      )
      .get(callId, callId) as { owner: string | null } | undefined;
    const owner = row?.owner ?? undefined;
    return owner === this.owner ? undefined : owner;
  }

  private rebuild(rows: DialogRow[], relayFor: (state: RelayCallState) => Call['relay']): RestoredCall[] {
    const restored: RestoredCall[] = [];
    const recorded = this.db.prepare('SELECT 1 FROM cdrs WHERE sip_call_id = ? AND started_at = ?');
    for (const row of rows) {
      try {
        const snapshot = JSON.parse(row.state) as CallSnapshot;
        if (recorded.get(snapshot.sipCallId, snapshot.startedAt) !== undefined) {
          // The predecessor wrote the record but died before forgetting the call: it is over.
          this.forget(row.call_ref);
          continue;
        }
        restored.push({ phase: row.phase, ...callFrom(snapshot, relayFor) });
      } catch (error) {
        this.log(`call ${row.call_ref}: its stored dialog cannot be restored: ${(error as Error).message}`);
        this.forget(row.call_ref);
      }
    }
    return restored;
  }
}

/** A customer's calls as replicated (for an API in another process: call-control.ts). */
export function storedLiveCalls(db: Db, customerId: string): LiveCallResource[] {
  const rows = db.prepare('SELECT state FROM sip_dialogs ORDER BY call_ref').all() as Array<{
    state: string;
  }>;
  return rows
    .map((row) => JSON.parse(row.state) as CallSnapshot)
    .filter((s) => s.customerId === customerId)
    .map((s) => ({
      id: s.ref,
      sipCallId: s.sipCallId,
      direction: s.direction,
      caller: s.caller,
      callee: s.callee,
      trunkId: s.trunkId,
      state: s.state === 'answered' ? 'answered' : 'ringing',
      held: s.relay?.blocked ?? false,
      startedAt: s.startedAt,
      answeredAt: s.answeredAt,
    }));
}

/** The node of an active-active edge carrying a call (undefined: none named, or no such call). */
export function storedCallOwner(db: Db, callRef: string): string | undefined {
  const row = db.prepare('SELECT owner FROM sip_dialogs WHERE call_ref = ?').get(callRef) as
    { owner: string | null } | undefined;
  return row?.owner ?? undefined;
}

function phaseOf(call: Call): DialogPhase {
  if (call.state !== 'answered') return 'setup';
  return call.app !== null || call.b === null ? 'local' : 'confirmed';
}

function storedLeg(leg: DialogLeg): StoredLeg {
  const { flow, ...rest } = leg;
  return { ...rest, flow: { transport: flow.transport, address: flow.address, port: flow.port } };
}

function snapshotOf(call: Call): CallSnapshot {
  const invite = call.inviteA;
  return {
    ref: call.ref,
    sipCallId: call.sipCallId,
    state: call.state,
    direction: call.direction,
    customerId: call.customerId,
    caller: call.caller,
    callee: call.callee,
    trunkId: call.trunkId,
    forwardedTo: call.forwardedTo,
    transferredTo: call.transferredTo,
    startedAt: call.startedAt.toISOString(),
    answeredAt: call.answeredAt?.toISOString() ?? null,
    a: storedLeg(call.a),
    b: call.b ? storedLeg(call.b) : null,
    inviteA: {
      method: invite.method,
      rawUri: invite.rawUri,
      headers: invite.headers,
      body: invite.body.toString('base64'),
    },
    inviteB: call.inviteB,
    ackBSent: call.ackBSent,
    relay: call.relay?.state() ?? null,
  };
}

/** The caller's INVITE as it arrived, parsed again from its stored headers and body. */
function requestFrom(stored: CallSnapshot['inviteA']): SipRequest {
  const parsed = parseSipMessage(
    serialize({
      startLine: `${stored.method} ${stored.rawUri} SIP/2.0`,
      headers: stored.headers.map((h): [string, string] => [h.name, h.value]),
      body: Buffer.from(stored.body, 'base64'),
      contentType: headerValue(stored.headers, 'content-type'),
    }),
  );
  if (!parsed.ok) throw new Error(`the stored INVITE does not parse: ${parsed.reason}`);
  if (parsed.message.kind !== 'request') throw new Error('the stored INVITE is not a request');
  return parsed.message;
}

/** A UDP flow comes back as it was; a WebSocket one cannot (undefined). */
function flowFrom(stored: StoredFlow): Flow | undefined {
  return stored.transport === 'UDP'
    ? { transport: 'UDP', address: stored.address, port: stored.port }
    : undefined;
}

function callFrom(
  s: CallSnapshot,
  relayFor: (state: RelayCallState) => Call['relay'],
): { call: Call; unreachable: Array<'A' | 'B'> } {
  const unreachable: Array<'A' | 'B'> = [];
  const leg = (stored: StoredLeg): DialogLeg => {
    const flow = flowFrom(stored.flow);
    if (flow) return { ...stored, flow };
    unreachable.push(stored.side);
    // Kept addressable for the dialog table only: nothing is ever sent to an unreachable leg.
    return { ...stored, flow: { transport: 'UDP', address: stored.flow.address, port: stored.flow.port } };
  };
  const call: Call = {
    ref: s.ref,
    sipCallId: s.sipCallId,
    state: s.state,
    direction: s.direction,
    customerId: s.customerId,
    caller: s.caller,
    callee: s.callee,
    trunkId: s.trunkId,
    forwardedTo: s.forwardedTo,
    transferredTo: s.transferredTo,
    account: null,
    app: null,
    voicemail: null,
    startedAt: new Date(s.startedAt),
    answeredAt: s.answeredAt === null ? null : new Date(s.answeredAt),
    a: leg(s.a),
    inviteA: requestFrom(s.inviteA),
    b: s.b ? leg(s.b) : null,
    inviteB: s.inviteB,
    ackBSent: s.ackBSent,
    relay: s.relay === null ? null : relayFor(s.relay),
    noAnswerTimer: null,
    mediaTimer: null,
    relayed: new Map(),
    pendingAck: null,
    ended: false,
  };
  return { call, unreachable };
}
