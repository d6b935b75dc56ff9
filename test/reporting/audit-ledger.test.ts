import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuditLedger, isAuditedChange } from '../../reporting/audit-ledger';

test('a change is a 2xx to a writing method that was not an Idempotency-Key replay', () => {
  assert.equal(isAuditedChange('POST', 201, false), true);
  assert.equal(isAuditedChange('delete', 204, false), true);
  assert.equal(isAuditedChange('PATCH', 200, true), false, 'a replay changed nothing');
  assert.equal(isAuditedChange('PUT', 422, false), false, 'a refused change changed nothing');
  assert.equal(isAuditedChange('GET', 200, false), false, 'a read is not a change');
});

test('the ledger hands each change over once', () => {
  // A ledger of its own: the shared one collects what other tests of this process send.
  const auditLedger = new AuditLedger();
  auditLedger.changed({ baseUrl: 'http://127.0.0.1:1', requestId: 'r1', requestLine: 'POST /v1/trunks' });
  assert.deepEqual(
    auditLedger.drain().map((c) => c.requestId),
    ['r1'],
  );
  assert.deepEqual(auditLedger.drain(), []);
});
