/** Starts a media relay and a sip-edge on a fresh store with a small, known data set. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedDefaults, type PlatformConfig } from '../../platform/config';
import { PlatformBus } from '../../platform/bus';
import { startMediaRelay, type MediaRelay } from '../../platform/media-relay';
import type { CallApplications } from '../../platform/contracts';
import { startSipEdge, type ActiveActiveNode, type SipEdge } from '../../platform/sip-edge';
import { openStore, type Db } from '../../platform/store/store';
import { RawSipClient, header, digestAnswer, sdp, type RawMessage, type RequestSpec } from './raw-sip-client';

/** The edge's own calls need no voicemail or verification services here: nothing routes to them. */
const NO_APPLICATIONS: CallApplications = {
  voicemailLeft: () => {
    throw new Error('no voicemail service in the sip-edge harness');
  },
  startVerification: () => undefined,
  checkCode: () => 'refused',
};

export const CUSTOMER = 'cus_test';
export const OTHER_CUSTOMER = 'cus_other';
export const ACCOUNTS = {
  alice: { username: 'alice', password: 'alice-secret', number: '+15550001' },
  bob: { username: 'bob', password: 'bob-secret', number: '+15550002' },
  carol: { username: 'carol', password: 'carol-secret', number: '+15550003' },
};

export interface TestEdge {
  edge: SipEdge;
  relay: MediaRelay;
  db: Db;
  bus: PlatformBus;
  config: PlatformConfig;
  server: { host: string; port: number };
  logs: string[];
  completed: Array<{ cdrId: string; customerId: string }>;
  stop(): Promise<void>;
}

export async function startTestEdge(
  sipOverrides: Partial<PlatformConfig['sip']> = {},
  mediaOverrides: Partial<PlatformConfig['media']> = {},
  activeActive?: ActiveActiveNode,
): Promise<TestEdge> {
  const dir = mkdtempSync(join(tmpdir(), 'sip-edge-test-'));
  const config = embeddedDefaults({ storeFile: join(dir, 'store.db'), adminApiKey: 'unused' });
  config.sip = { ...config.sip, ...sipOverrides };
  config.media = { ...config.media, ...mediaOverrides };
  const db = openStore(config.store.file);
  const now = new Date().toISOString();
  for (const id of [CUSTOMER, OTHER_CUSTOMER])
    db.prepare('INSERT INTO customers (id, name, tier, created_at) VALUES (?, ?, ?, ?)').run(
      id,
      id,
      'standard',
      now,
    );
  for (const a of Object.values(ACCOUNTS)) {
    db.prepare('INSERT INTO numbers (e164, customer_id, kind, created_at) VALUES (?, ?, ?, ?)').run(
      a.number,
      CUSTOMER,
      'local',
      now,
    );
    db.prepare(
      'INSERT INTO sip_accounts (username, customer_id, password, number, created_at) VALUES (?, ?, ?, ?, ?)',
    ).run(a.username, CUSTOMER, a.password, a.number, now);
  }
  const logs: string[] = [];
  const bus = new PlatformBus();
  const completed: Array<{ cdrId: string; customerId: string }> = [];
  bus.on('call.completed', (event) => completed.push(event));
  const deps = { config, db, bus, log: (role: string, message: string) => logs.push(`${role}: ${message}`) };
  const relay = await startMediaRelay(deps);
  const edge = await startSipEdge(deps, relay.endpoints.ng, NO_APPLICATIONS, activeActive);
  return {
    edge,
    relay,
    db,
    bus,
    config,
    server: edge.endpoints.udp,
    logs,
    completed,
    async stop(this: TestEdge) {
      await this.edge.stop(); // the successor's, after a takeOver
      await relay.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A second edge node takes over: the running one gives up its addresses without ending anything
 * (what a crash leaves behind), and a new edge starts on the same UDP/WS ports, store and relay.
 * `t.edge` is the successor afterwards (t.stop stops it).
 */
export async function takeOver(t: TestEdge): Promise<SipEdge> {
  const previous = t.edge;
  await previous.release();
  const config: PlatformConfig = {
    ...t.config,
    sip: {
      ...t.config.sip,
      udpPort: previous.endpoints.udp.port,
      wsPort: Number(new URL(previous.endpoints.ws).port),
    },
  };
  const deps = {
    config,
    db: t.db,
    bus: t.bus,
    log: (role: string, message: string) => t.logs.push(`${role}: ${message}`),
  };
  t.edge = await startSipEdge(deps, t.relay.endpoints.ng, NO_APPLICATIONS);
  return t.edge;
}

/**
 * Another node of an active-active edge: its own ports, the same store and relay. The caller
 * stops it (t.stop stops only t.edge).
 */
export async function startPeerEdge(t: TestEdge, node: ActiveActiveNode): Promise<SipEdge> {
  const config: PlatformConfig = { ...t.config, sip: { ...t.config.sip, udpPort: 0, wsPort: 0 } };
  const deps = {
    config,
    db: t.db,
    bus: t.bus,
    log: (role: string, message: string) => t.logs.push(`${role}/${node.node}: ${message}`),
  };
  return startSipEdge(deps, t.relay.endpoints.ng, NO_APPLICATIONS, node);
}

export function addTrunk(
  db: Db,
  trunk: { id: string; customerId?: string; port: number; prefixes: string[]; callerId?: string | null },
): void {
  db.prepare(
    `INSERT INTO trunks (id, customer_id, name, host, port, transport, destination_prefixes, caller_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    trunk.id,
    trunk.customerId ?? CUSTOMER,
    trunk.id,
    '127.0.0.1',
    trunk.port,
    'udp',
    JSON.stringify(trunk.prefixes),
    trunk.callerId ?? null,
    new Date().toISOString(),
  );
}

/** The fixed parts of one registration's REGISTER requests for `username`'s address of record. */
export function registerRequestBase(username: string, domain: string, tag: string, callId: string) {
  const aor = `<sip:${username}@${domain}>`;
  return { method: 'REGISTER', uri: `sip:${domain}`, from: `${aor};tag=${tag}`, to: aor, callId };
}

/** REGISTER with the challenge/response dance; resolves with the 200. */
export async function register(
  client: RawSipClient,
  account: { username: string; password: string },
  domain: string,
  expires = 300,
) {
  const base = registerRequestBase(
    account.username,
    domain,
    `r${client.port}`,
    `reg-${client.name}-${Date.now()}`,
  );
  const contact: [string, string] = ['Contact', `<${client.contact}>;expires=${expires}`];
  client.request({ ...base, cseq: 1, headers: [contact] });
  const challenge = await client.waitForResponse(401, '1 REGISTER');
  const authorization = digestAnswer(header(challenge, 'www-authenticate') ?? '', {
    ...account,
    method: 'REGISTER',
    uri: base.uri,
  });
  client.request({ ...base, cseq: 2, headers: [contact, ['Authorization', authorization]] });
  return client.waitForResponse(200, '2 REGISTER');
}

export interface CdrRow {
  caller: string;
  callee: string;
  trunk_id: string | null;
  direction: string;
  disposition: string;
  sip_status: number;
  hangup_by: string | null;
  answered_at: string | null;
  duration_ms: number;
  billable_seconds: number;
  media: string;
  customer_id: string;
}

export function cdrFor(t: TestEdge, callId: string): CdrRow | undefined {
  return t.db.prepare('SELECT * FROM cdrs WHERE sip_call_id = ?').get(callId) as CdrRow | undefined;
}

export interface OutgoingCall {
  callId: string;
  uri: string;
  from: string;
  to: string;
  branch: string;
  cseq: number;
  invite: (extra?: Array<[string, string]>) => void;
}

/** Sends INVITE, answers the 407 with credentials, and returns the authenticated attempt. */
export async function placeCall(
  caller: RawSipClient,
  account: { username: string; password: string },
  dialed: string,
  t: TestEdge,
  mediaPort: number,
): Promise<OutgoingCall> {
  const domain = t.config.sip.domain;
  const callId = `call-${caller.name}-${Math.random().toString(36).slice(2)}`;
  const uri = `sip:${dialed}@${domain}`;
  const from = `"${account.username}" <sip:${account.username}@${domain}>;tag=${caller.name}1`;
  const to = `<${uri}>`;
  const contact: [string, string] = ['Contact', `<${caller.contact}>`];
  const firstBranch = caller.request({
    method: 'INVITE',
    uri,
    from,
    to,
    callId,
    cseq: 1,
    headers: [contact],
    body: sdp(mediaPort),
  });
  const challenge = await caller.waitForResponse(407, '1 INVITE');
  assert.match(header(challenge, 'proxy-authenticate') ?? '', /qop="auth"/);
  caller.request({
    method: 'ACK',
    uri,
    from,
    to: header(challenge, 'to') ?? to,
    callId,
    cseq: 1,
    branch: firstBranch,
  });
  const credentials = digestAnswer(header(challenge, 'proxy-authenticate') ?? '', {
    ...account,
    method: 'INVITE',
    uri,
  });
  const call: OutgoingCall = {
    callId,
    uri,
    from,
    to,
    branch: '',
    cseq: 2,
    invite: (extra = []) => {
      call.branch = caller.request({
        method: 'INVITE',
        uri,
        from,
        to,
        callId,
        cseq: 2,
        branch: call.branch || undefined,
        headers: [contact, ['Proxy-Authorization', credentials], ...extra],
        body: sdp(mediaPort),
      });
    },
  };
  call.invite();
  return call;
}

export function mediaPortOf(message: RawMessage): number {
  return Number(/m=audio (\d+)/.exec(message.body)?.[1]);
}

/** A fresh edge with alice and bob registered, as the two ends of an internal call. */
export interface RegisteredPair {
  t: TestEdge;
  alice: RawSipClient;
  bob: RawSipClient;
}

/** Runs `body` with alice and bob registered on a fresh edge; closes both phones and the edge after. */
export async function withAliceAndBob(
  body: (pair: RegisteredPair) => Promise<void>,
  sipOverrides: Partial<PlatformConfig['sip']> = {},
  mediaOverrides: Partial<PlatformConfig['media']> = {},
): Promise<void> {
  const t = await startTestEdge(sipOverrides, mediaOverrides);
  const alice = await RawSipClient.open('alice', t.server);
  const bob = await RawSipClient.open('bob', t.server);
  try {
    await register(alice, ACCOUNTS.alice, t.config.sip.domain);
    await register(bob, ACCOUNTS.bob, t.config.sip.domain);
    await body({ t, alice, bob });
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await t.stop();
  }
}

/** The callee answers an INVITE: 200 OK with its Contact and an SDP for `mediaPort`. */
export function answerInvite(
  callee: RawSipClient,
  invite: RawMessage,
  toTag: string,
  mediaPort: number,
): void {
  callee.reply(invite, 200, 'OK', {
    toTag,
    headers: [['Contact', `<${callee.contact}>`]],
    body: sdp(mediaPort),
  });
}

/** The caller's side of an established dialog: From and To with their tags, and the Call-ID. */
export interface DialogIds {
  from: string;
  to: string;
  callId: string;
}

/** Sends an in-dialog request (ACK, BYE, re-INVITE) to the edge; returns its branch. */
export function sendInDialog(
  client: RawSipClient,
  dialog: DialogIds,
  method: string,
  cseq: number,
  extra: Pick<RequestSpec, 'headers' | 'body'> = {},
): string {
  return client.request({
    method,
    uri: 'sip:edge@127.0.0.1',
    from: dialog.from,
    to: dialog.to,
    callId: dialog.callId,
    cseq,
    ...extra,
  });
}

/** A fresh edge with a trunk `trk_in` (the `pstn` client, routing every prefix) and carol registered. */
export interface InboundSetup {
  t: TestEdge;
  pstn: RawSipClient;
  carol: RawSipClient;
}

/** Runs `body` with a carrier trunk and a registered carol; closes both and the edge after. */
export async function withTrunkAndCarol(body: (setup: InboundSetup) => Promise<void>): Promise<void> {
  const t = await startTestEdge();
  const pstn = await RawSipClient.open('pstn', t.server);
  const carol = await RawSipClient.open('carol', t.server);
  try {
    addTrunk(t.db, { id: 'trk_in', port: pstn.port, prefixes: [] });
    await register(carol, ACCOUNTS.carol, t.config.sip.domain);
    await body({ t, pstn, carol });
  } finally {
    await Promise.all([pstn.close(), carol.close()]);
    await t.stop();
  }
}

/** The carrier sends an (unauthenticated) INVITE for carol's number, offering media on 41000. */
export function inviteCarolFromTrunk(
  setup: InboundSetup,
  call: { from: string; to: string; callId: string },
): void {
  setup.pstn.request({
    method: 'INVITE',
    uri: `sip:${ACCOUNTS.carol.number}@${setup.t.config.sip.domain}`,
    from: call.from,
    to: call.to,
    callId: call.callId,
    cseq: 1,
    headers: [['Contact', `<${setup.pstn.contact}>`]],
    body: sdp(41000),
  });
}
