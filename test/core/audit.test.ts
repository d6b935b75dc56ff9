import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../platform/store/store';
import {
  listAuditEvents,
  parseAuditFilter,
  recordAudit,
  redactSecrets,
  restoreAuditEntry,
  tamperWithAuditEntry,
  verifyAuditChain,
  type AuditEntry,
} from '../../platform/core/audit';
import { auditActionOf, auditEntryFor, type AuditedRequest } from '../../platform/gateway/audit-hook';
import { ValidationError } from '../../platform/errors';

function entry(customerId: string | null, action: string): AuditEntry {
  return {
    actor: customerId ? { kind: 'customer', id: customerId } : { kind: 'operator', id: 'operator' },
    customerId,
    channel: 'api',
    action,
    target: '/v1/trunks',
    sourceAddress: '127.0.0.1',
    requestId: `req-${action}`,
    detail: { before: null, after: { name: action } },
  };
}

function trail(): ReturnType<typeof openStore> {
  const db = openStore(':memory:');
  recordAudit(db, entry('cus_a', 'trunk.created'));
  recordAudit(db, entry('cus_b', 'trunk.created'));
  recordAudit(db, entry('cus_a', 'trunk.updated'));
  recordAudit(db, entry(null, 'smsc-route.updated'));
  return db;
}

test('an untouched trail verifies intact, every entry checked', () => {
  assert.deepEqual(verifyAuditChain(trail()), { intact: true, checked: 4 });
  assert.deepEqual(verifyAuditChain(openStore(':memory:')), { intact: true, checked: 0 });
});

test('an entry edited behind the platform’s back breaks the chain at that entry, and restoring it mends it', () => {
  const db = trail();
  const tampered = tamperWithAuditEntry(db, 'cus_a');
  assert.equal(tampered?.seq, 3);
  assert.deepEqual(verifyAuditChain(db), { intact: false, checked: 3, firstBrokenSeq: 3 });
  assert.equal(restoreAuditEntry(db, tampered!), true);
  assert.deepEqual(verifyAuditChain(db), { intact: true, checked: 4 });
});

test('a deleted, re-hashed or reordered entry breaks the chain too', () => {
  const deleted = trail();
  deleted.prepare('DELETE FROM audit_events WHERE seq = 2').run();
  assert.equal(verifyAuditChain(deleted).firstBrokenSeq, 3);
  // Editing an entry and recomputing its own hash still breaks the link to the next one.
  const rehashed = trail();
  rehashed
    .prepare("UPDATE audit_events SET action = 'trunk.deleted', hash = ? WHERE seq = 1")
    .run('f'.repeat(64));
  assert.equal(verifyAuditChain(rehashed).firstBrokenSeq, 1);
  const moved = trail();
  moved.prepare("UPDATE audit_events SET source_address = '10.0.0.9' WHERE seq = 4").run();
  assert.equal(verifyAuditChain(moved).firstBrokenSeq, 4);
});

test('a customer’s list holds its own entries only, newest first, paged without repeats', () => {
  const db = trail();
  const first = listAuditEvents(db, {
    ...parseAuditFilter(new URLSearchParams('limit=1'), false),
    customerId: 'cus_a',
  });
  assert.deepEqual(
    first.items.map((e) => e.action),
    ['trunk.updated'],
  );
  assert.ok(first.nextCursor);
  const second = listAuditEvents(db, {
    ...parseAuditFilter(new URLSearchParams({ limit: '1', cursor: first.nextCursor }), false),
    customerId: 'cus_a',
  });
  assert.deepEqual(
    second.items.map((e) => [e.action, e.customerId]),
    [['trunk.created', 'cus_a']],
  );
  assert.equal(second.nextCursor, null);
  const byRequest = listAuditEvents(
    db,
    parseAuditFilter(new URLSearchParams('requestId=req-smsc-route.updated&requestId=req-nothing'), true),
  );
  assert.deepEqual(
    byRequest.items.map((e) => e.seq),
    [4],
  );
});

test('a customer may not ask for another customer’s trail; bad paging is a validation error', () => {
  assert.throws(() => parseAuditFilter(new URLSearchParams('customerId=cus_b'), false), ValidationError);
  assert.throws(() => parseAuditFilter(new URLSearchParams('limit=0'), true), ValidationError);
  assert.throws(() => parseAuditFilter(new URLSearchParams('cursor=nonsense'), true), ValidationError);
  assert.throws(() => parseAuditFilter(new URLSearchParams('since=yesterday'), true), ValidationError);
});

test('secrets are redacted at any depth, other fields kept', () => {
  assert.deepEqual(
    redactSecrets({
      username: 'alice',
      password: 'pw',
      nested: [{ signingSecret: 's', apiKey: 'k', id: 1 }],
      token: null,
    }),
    {
      username: 'alice',
      password: '[redacted]',
      nested: [{ signingSecret: '[redacted]', apiKey: '[redacted]', id: 1 }],
      token: null,
    },
  );
});

test('the action a change records is named from its route', () => {
  const action = (method: string, path: string, auditAction?: string): string =>
    auditActionOf({ method: method as 'POST', path, auditAction });
  assert.equal(action('POST', '/v1/sip-accounts'), 'sip-account.created');
  assert.equal(action('PATCH', '/v1/sip-accounts/{username}'), 'sip-account.updated');
  assert.equal(action('DELETE', '/v1/routing-rules/{id}'), 'routing-rule.deleted');
  assert.equal(action('POST', '/v1/campaigns/{id}/pause'), 'campaign.paused');
  assert.equal(action('POST', '/v1/calls/{id}/transfer'), 'call.transferred');
  assert.equal(action('PUT', '/ops/v1/smsc/routes'), 'smsc-route.updated');
  assert.equal(action('DELETE', '/ops/v1/smsc/connectors/{id}'), 'smsc-connector.deleted');
  assert.equal(action('PUT', '/ops/v1/customers/{id}/rate-limits'), 'rate-limit.updated');
  assert.equal(action('POST', '/v1/messages', 'message.sent'), 'message.sent');
});

function request(overrides: Partial<AuditedRequest>): AuditedRequest {
  return {
    method: 'POST',
    path: '/v1/sip-accounts',
    requestId: 'r1',
    sourceAddress: '127.0.0.1',
    caller: { role: 'customer', customerId: 'cus_a' } as AuditedRequest['caller'],
    route: { method: 'POST', path: '/v1/sip-accounts' } as AuditedRequest['route'],
    params: {},
    before: null,
    status: 201,
    responseText: JSON.stringify({ username: 'alice', password: 'secret!' }),
    replayed: false,
    ...overrides,
  };
}

test('a change is recorded with its secrets redacted; reads, refusals and replays are not', () => {
  const created = auditEntryFor(
    request({
      responseText: JSON.stringify({ id: 'trk_1', password: 'x' }),
      path: '/v1/trunks',
      route: { method: 'POST', path: '/v1/trunks' } as AuditedRequest['route'],
    }),
  );
  assert.equal(created?.action, 'trunk.created');
  assert.equal(created?.target, '/v1/trunks/trk_1');
  assert.deepEqual(created?.detail, {
    method: 'POST',
    before: null,
    after: { id: 'trk_1', password: '[redacted]' },
  });
  assert.equal(created?.customerId, 'cus_a');
  assert.equal(auditEntryFor(request({ method: 'GET' })), undefined);
  assert.equal(auditEntryFor(request({ status: 422 })), undefined);
  assert.equal(auditEntryFor(request({ replayed: true })), undefined);
});

test('the operator’s change to a customer is in that customer’s trail too', () => {
  const operator = { role: 'operator' } as AuditedRequest['caller'];
  const created = auditEntryFor(
    request({
      caller: operator,
      path: '/v1/customers',
      route: { method: 'POST', path: '/v1/customers' } as AuditedRequest['route'],
      responseText: JSON.stringify({ id: 'cus_new', apiKey: 'k', smpp: { systemId: 's', password: 'p' } }),
    }),
  );
  assert.deepEqual(
    [created?.action, created?.customerId, created?.actor.kind],
    ['customer.created', 'cus_new', 'operator'],
  );
  assert.deepEqual(created?.detail.after, {
    id: 'cus_new',
    apiKey: '[redacted]',
    smpp: { systemId: 's', password: '[redacted]' },
  });
  const limits = auditEntryFor(
    request({
      caller: operator,
      method: 'PUT',
      path: '/ops/v1/customers/cus_b/rate-limits',
      route: { method: 'PUT', path: '/ops/v1/customers/{id}/rate-limits' } as AuditedRequest['route'],
      params: { id: 'cus_b' },
      status: 200,
    }),
  );
  assert.deepEqual(
    [limits?.action, limits?.customerId, limits?.channel],
    ['rate-limit.updated', 'cus_b', 'ops'],
  );
});

test('a refused key and a forbidden endpoint are recorded as auth.failed and access.denied', () => {
  const failed = auditEntryFor(
    request({ caller: null, status: 401, responseText: '{"message":"Invalid authentication credentials"}' }),
  );
  assert.deepEqual(
    [failed?.action, failed?.actor.kind, failed?.customerId],
    ['auth.failed', 'anonymous', null],
  );
  assert.equal(failed?.detail.reason, 'Invalid authentication credentials');
  const denied = auditEntryFor(
    request({
      path: '/ops/v1/settings',
      method: 'GET',
      status: 403,
      responseText: '{"detail":"for the operator"}',
    }),
  );
  assert.deepEqual([denied?.action, denied?.channel, denied?.customerId], ['access.denied', 'ops', 'cus_a']);
});
