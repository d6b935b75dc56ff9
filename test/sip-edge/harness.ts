/** Starts a media relay and a sip-edge on a fresh store with a small, known data set. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedDefaults, type PlatformConfig } from '../../platform/config';
import { PlatformBus } from '../../platform/core/events';
import { startMediaRelay, type MediaRelay } from '../../platform/media-relay';
import { startSipEdge, type SipEdge } from '../../platform/sip-edge';
import { openStore, type Db } from '../../platform/store/store';
import { RawSipClient, header, digestAnswer, sdp, type RawMessage } from './raw-sip-client';

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
): Promise<TestEdge> {
  const dir = mkdtempSync(join(tmpdir(), 'sip-edge-test-'));
  const config = embeddedDefaults({ storeFile: join(dir, 'store.db'), adminApiKey: 'unused' });
  config.sip = { ...config.sip, ...sipOverrides };
  config.media = { ...config.media, ...mediaOverrides };
  const db = openStore(config.store.file);
  const now = new Date().toISOString();
  for (const id of [CUSTOMER, OTHER_CUSTOMER])
    db.prepare('INSERT INTO customers VALUES (?, ?, ?, ?)').run(id, id, 'standard', now);
  for (const a of Object.values(ACCOUNTS)) {
    db.prepare('INSERT INTO numbers VALUES (?, ?, ?, ?)').run(a.number, CUSTOMER, 'local', now);
    db.prepare('INSERT INTO sip_accounts VALUES (?, ?, ?, ?, ?)').run(
      a.username,
      CUSTOMER,
      a.password,
      a.number,
      now,
    );
  }
  const logs: string[] = [];
  const bus = new PlatformBus();
  const completed: Array<{ cdrId: string; customerId: string }> = [];
  bus.on('call.completed', (event) => completed.push(event));
  const deps = { config, db, bus, log: (role: string, message: string) => logs.push(`${role}: ${message}`) };
  const relay = await startMediaRelay(deps);
  const edge = await startSipEdge(deps, relay);
  return {
    edge,
    relay,
    db,
    bus,
    config,
    server: edge.endpoints.udp,
    logs,
    completed,
    async stop() {
      await edge.stop();
      await relay.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function addTrunk(
  db: Db,
  trunk: { id: string; customerId?: string; port: number; prefixes: string[]; callerId?: string | null },
): void {
  db.prepare('INSERT INTO trunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
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

/** REGISTER with the challenge/response dance; resolves with the 200. */
export async function register(
  client: RawSipClient,
  account: { username: string; password: string },
  domain: string,
  expires = 300,
) {
  const callId = `reg-${client.name}-${Date.now()}`;
  const aor = `<sip:${account.username}@${domain}>`;
  const base = {
    method: 'REGISTER',
    uri: `sip:${domain}`,
    from: `${aor};tag=r${client.port}`,
    to: aor,
    callId,
  };
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
