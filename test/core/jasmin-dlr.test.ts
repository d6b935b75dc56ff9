import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jasminDlrForm } from '../../platform/core/jasmin-dlr';
import type { MessageRow } from '../../platform/smsc/message-store';

const row: MessageRow = {
  id: 'msg_1',
  customer_id: 'cus_1',
  source: 'api',
  sender: '+14155550100',
  recipient: '+447700900123',
  text: 'Your parcel is out for delivery today',
  encoding: 'gsm7',
  parts: 1,
  status: 'delivered',
  error_code: null,
  connector_id: 'carrier-0',
  carrier_message_ids: JSON.stringify(['c-42']),
  part_connectors: '[]',
  part_states: '[]',
  registered_delivery: 1,
  attempts: 1,
  accepted_at: '2026-12-02T17:40:00.000Z',
  sent_at: '2026-12-02T17:40:01.000Z',
  done_at: '2026-12-02T17:41:02.000Z',
  receipt_sent_at: null,
};

test('level 1: the SMSC acknowledgement, ESME_ROK', () => {
  assert.deepEqual(Object.fromEntries(new URLSearchParams(jasminDlrForm('message.sent', row))), {
    id: 'msg_1',
    connector: 'carrier-0',
    message_status: 'ESME_ROK',
    level: '1',
  });
});

test('level 2: the final state with the carrier id, receipt dates and error, text cut to 20', () => {
  const fields = Object.fromEntries(new URLSearchParams(jasminDlrForm('message.delivered', row)));
  assert.deepEqual(fields, {
    id: 'msg_1',
    connector: 'carrier-0',
    message_status: 'DELIVRD',
    level: '2',
    id_smsc: 'c-42',
    sub: '001',
    dlvrd: '001',
    subdate: '2612021740',
    donedate: '2612021741',
    err: '000',
    text: 'Your parcel is out f',
  });
  const undeliverable = Object.fromEntries(
    new URLSearchParams(jasminDlrForm('message.undeliverable', { ...row, error_code: '001' })),
  );
  assert.deepEqual(
    [undeliverable.message_status, undeliverable.dlvrd, undeliverable.err],
    ['UNDELIV', '000', '001'],
  );
});

test('events Jasmin does not report give no callback', () => {
  assert.equal(jasminDlrForm('message.queued', row), undefined);
});
