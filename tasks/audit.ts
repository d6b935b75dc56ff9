import { expect } from 'chai';
import type { AuditEvent, PlatformApi, RawResponse } from '../world/http/api-client';
import type { AuditedChangeMade, Phase2World } from '../world/world';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { entriesPerRequest } from '../reporting/audit-completeness';
import { PLATFORM_LOG } from './waiting';

/**
 * The audit trail (TEST-INT-054) as customers and the operator read it through the API. The
 * gateway writes an entry before it answers the change, so the trail is read at once: an entry
 * that is not there when the answer is is missing, not late.
 */

const REDACTED = '[redacted]';
const LOOK = `see "${EVIDENCE.HTTP}" and ${PLATFORM_LOG}`;

/** A change through the raw client: its answer must be the success it names. */
async function change(
  api: PlatformApi,
  method: 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  json: unknown,
  status: number,
): Promise<RawResponse> {
  const response = await api.raw({ method, path, json });
  expect(response.status, `${method} ${path} (request ${response.requestId}; ${LOOK})`).to.equal(status);
  return response;
}

/** When {string} provisions a trunk to their carrier, renames it and adds a message template through the API */
export async function makeAuditedChanges(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const carrier = (await world.telephoneNetwork()).address();
  const trunk = await change(
    customer.api,
    'POST',
    '/v1/trunks',
    {
      name: `${customerName} carrier`,
      host: world.env.config.suiteHost,
      port: carrier.port,
      transport: 'udp',
    },
    201,
  );
  const trunkPath = `/v1/trunks/${(trunk.body as { id: string }).id}`;
  const renamed = await change(
    customer.api,
    'PATCH',
    trunkPath,
    { name: `${customerName} main carrier` },
    200,
  );
  const template = await change(
    customer.api,
    'POST',
    '/v1/templates',
    { name: 'welcome', body: 'Welcome, {{name}}' },
    201,
  );
  const made: AuditedChangeMade[] = [
    { what: 'provisions the trunk', requestId: trunk.requestId, action: 'trunk.created', target: trunkPath },
    { what: 'renames the trunk', requestId: renamed.requestId, action: 'trunk.updated', target: trunkPath },
    {
      what: 'adds the template',
      requestId: template.requestId,
      action: 'template.created',
      target: `/v1/templates/${(template.body as { id: string }).id}`,
    },
  ];
  customer.audit = { ...customer.audit, changes: [...(customer.audit?.changes ?? []), ...made] };
}

function changesOf(world: Phase2World, customerName: string): AuditedChangeMade[] {
  const changes = world.customer(customerName).audit?.changes ?? [];
  if (changes.length === 0)
    throw new Error(`"${customerName}" made no changes in this scenario yet: a When step must.`);
  return changes;
}

/** Entries carrying the changes' request ids, from a list (own trail or the operator's). */
async function entriesFor(
  list: PlatformApi['listAuditEvents'],
  changes: AuditedChangeMade[],
): Promise<AuditEvent[]> {
  const page = await list({ requestIds: changes.map((c) => c.requestId), limit: 500 });
  return page.items;
}

/** Then {string}'s audit trail shows each of those changes exactly once, by the customer, from the address it came from, under the request that made it */
export async function expectChangesInOwnTrail(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const changes = changesOf(world, customerName);
  const entries = await entriesFor((f) => customer.api.listOwnAuditEvents(f), changes);
  attachJson(world, `Audit trail of ${customerName}`, entries);
  const shown = changes.map((c) => {
    const mine = entries.filter((e) => e.requestId === c.requestId);
    return {
      change: c.what,
      entries: mine.length,
      action: mine[0]?.action,
      target: mine[0]?.target,
      actor: mine[0] && `${mine[0].actor.kind} ${mine[0].actor.id}`,
      sourceAddress: mine[0]?.sourceAddress,
    };
  });
  expect(
    shown,
    `entries of ${customerName}'s audit trail per change it made, by request id (${LOOK})`,
  ).to.deep.equal(
    changes.map((c) => ({
      change: c.what,
      entries: 1,
      action: c.action,
      target: c.target,
      actor: `customer ${customer.id}`,
      // The suite's API client connects from the suite's own host.
      sourceAddress: world.env.config.suiteHost,
    })),
  );
  const newestFirst = entries.map((e) => e.seq);
  expect(newestFirst, 'the trail is listed newest first').to.deep.equal(
    [...newestFirst].sort((a, b) => b - a),
  );
}

/** Then the trunk's renaming shows its name before and after */
export async function expectRenameBeforeAfter(world: Phase2World) {
  const customerName = world.onlyCustomerName();
  const customer = world.customer(customerName);
  const renaming = changesOf(world, customerName).find((c) => c.action === 'trunk.updated');
  if (!renaming) throw new Error('No trunk was renamed in this scenario: a When step must rename one.');
  const [entry] = await entriesFor((f) => customer.api.listOwnAuditEvents(f), [renaming]);
  expect(entry, `the audit entry of request ${renaming.requestId} (${LOOK})`).to.not.equal(undefined);
  const name = (side: unknown): unknown => (side as { name?: unknown } | null)?.name;
  expect(
    { before: name(entry.detail.before), after: name(entry.detail.after) },
    `the trunk's name before and after in audit entry ${entry.seq}: ${JSON.stringify(entry.detail)}`,
  ).to.deep.equal({ before: `${customerName} carrier`, after: `${customerName} main carrier` });
}

/** Then {string}'s audit trail shows its creation, {person}'s SIP account and the webhook without their secrets */
export async function expectSecretsNeverInTrail(world: Phase2World, customerName: string, name: string) {
  const customer = world.customer(customerName);
  const person = world.subscriber(name);
  const { items } = await customer.api.listOwnAuditEvents({ limit: 500 });
  attachJson(world, `Audit trail of ${customerName}`, items);
  const after = (action: string): Record<string, unknown> => {
    const entry = items.find((e) => e.action === action);
    expect(
      entry,
      `a ${action} entry in ${customerName}'s trail; it has: ${items.map((e) => e.action).join(', ')}`,
    ).to.not.equal(undefined);
    return (entry?.detail.after ?? {}) as Record<string, unknown>;
  };
  const created = after('customer.created');
  const account = after('sip-account.created');
  const webhook = after('webhook.created');
  // A secret in clear is named, never printed: the failure message lands in the reports.
  const shown = (value: unknown): string => (value === REDACTED ? REDACTED : `in clear (${typeof value})`);
  expect(
    {
      apiKey: shown(created.apiKey),
      smppPassword: shown((created.smpp as { password?: unknown } | undefined)?.password),
      sipUsername: account.username,
      // The account as the API answers it has no password at all; redacted if it ever had.
      sipPasswordShown: account.password !== undefined && account.password !== REDACTED,
      webhookSecret: shown(webhook.secret),
    },
    'secrets in the audit entries (the rest of each resource is kept)',
  ).to.deep.equal({
    apiKey: REDACTED,
    smppPassword: REDACTED,
    sipUsername: person.sip.username,
    sipPasswordShown: false,
    webhookSecret: REDACTED,
  });
  const text = JSON.stringify(items);
  for (const [what, secret] of [
    [`${name}'s SIP password`, person.sip.password],
    [`${customerName}'s SMPP password`, customer.smpp.password],
  ] as const)
    expect(text.includes(secret), `${what} appears somewhere in the trail`).to.equal(false);
}

/** Then the operator's audit trail shows the refused key with the address and request it came from, but not the key */
export async function expectRefusedKeyInOperatorTrail(world: Phase2World) {
  const refused = world.refusals.lastResponse;
  const requestId = refused?.headers['x-request-id'];
  if (typeof requestId !== 'string')
    throw new Error('No refused request in this scenario yet: a When step must send one.');
  const { items } = await world.operator.listAuditEvents({ requestIds: [requestId] });
  attachJson(world, 'Audit entries of the refused request', items);
  expect(
    items.map((e) => ({
      action: e.action,
      actor: e.actor.kind,
      target: e.target,
      sourceAddress: e.sourceAddress,
    })),
    `the operator's audit entries for request ${requestId} (${LOOK})`,
  ).to.deep.equal([
    {
      action: 'auth.failed',
      actor: 'anonymous',
      target: '/v1/messages',
      sourceAddress: world.env.config.suiteHost,
    },
  ]);
  expect(JSON.stringify(items), 'the offered key in the audit entry').to.not.match(/forged-/);
}

/** Then {string}'s audit trail shows each refused use of an operator endpoint */
export async function expectDeniedUsesInOwnTrail(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const tried = world.refusals.operatorOnly ?? [];
  expect(tried.length, 'operator endpoints tried').to.be.above(0);
  const { items } = await customer.api.listOwnAuditEvents({ action: 'access.denied', limit: 500 });
  const recorded = items.map((e) => `${String(e.detail.method)} ${decodeURIComponent(e.target ?? '')}`);
  const missing = tried.map((t) => decodeURIComponent(t.request)).filter((r) => !recorded.includes(r));
  expect(
    missing,
    `operator endpoints ${customerName} was refused that its trail does not show as access.denied (it shows: ${recorded.join(', ')})`,
  ).to.deep.equal([]);
}

/** Then {string} finds none of {string}'s changes in its audit trail and may not ask for another customer's */
export async function expectOtherTrailHidden(world: Phase2World, readerName: string, ownerName: string) {
  const reader = world.customer(readerName);
  const owner = world.customer(ownerName);
  const seen = await entriesFor((f) => reader.api.listOwnAuditEvents(f), changesOf(world, ownerName));
  expect(
    seen.map((e) => `${e.seq} ${e.action} ${e.target ?? ''} (customer ${e.customerId ?? 'none'})`),
    `${ownerName}'s entries (customer ${owner.id}) in ${readerName}'s own trail`,
  ).to.deep.equal([]);
  const asked = await reader.api.raw({
    method: 'GET',
    path: `/v1/audit-events?customerId=${encodeURIComponent(owner.id)}`,
    refusal: { what: `${readerName} reading ${ownerName}'s audit trail`, by: 'the platform' },
  });
  expect(asked.status, `${readerName} asking for ${ownerName}'s trail (${LOOK})`).to.equal(422);
}

/** Then the operator's audit trail shows {string}'s changes */
export async function expectOperatorSeesChanges(world: Phase2World, customerName: string) {
  const changes = changesOf(world, customerName);
  const counts = await entriesPerRequest(
    world.operator,
    changes.map((c) => c.requestId),
  );
  expect(
    changes.map((c) => `${c.what}: ${counts.get(c.requestId) ?? 0}`),
    `entries per change of ${customerName} in the operator's trail`,
  ).to.deep.equal(changes.map((c) => `${c.what}: 1`));
}

/** Then the platform verifies its audit trail intact */
export async function expectTrailIntact(world: Phase2World) {
  const verdict = await world.operator.verifyAuditTrail();
  attachJson(world, 'Audit trail verification', verdict);
  expect(verdict, `the platform's verification of its audit trail (${LOOK})`).to.deep.include({
    intact: true,
  });
  expect(verdict.checked, 'entries checked').to.be.above(0);
}

/** When someone with direct access to the database edits {string}'s latest audit entry */
export async function tamperWithLatestEntry(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  // The reference platform's DBA drill (a deployment has none: there its DBA does this).
  const tampered = await world.operator.tamperAuditDrill(customer.id);
  customer.audit = { changes: customer.audit?.changes ?? [], tampered };
  // The other scenarios of this platform verify the trail too: the edit is undone at the end.
  world.onCleanup(() => world.operator.restoreAuditDrill(tampered));
}

/** Then the platform's verification finds the audit trail broken at exactly that entry */
export async function expectTrailBrokenAtTamperedEntry(world: Phase2World) {
  const customerName = world.onlyCustomerName();
  const tampered = world.customer(customerName).audit?.tampered;
  if (!tampered) throw new Error('Nobody edited the audit trail in this scenario: a When step must.');
  const verdict = await world.operator.verifyAuditTrail();
  attachJson(world, 'Audit trail verification', verdict);
  expect(
    { intact: verdict.intact, firstBrokenSeq: verdict.firstBrokenSeq },
    `the platform's verification after entry ${tampered.seq} was edited behind its back`,
  ).to.deep.equal({ intact: false, firstBrokenSeq: tampered.seq });
}
