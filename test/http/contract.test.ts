import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiContract, ContractViolation, platformContract } from '../../world/http/contract';

const contract: ApiContract = platformContract();

const message = {
  id: 'msg_1',
  from: '+14155550100',
  to: '+447700900123',
  text: 'Hello',
  encoding: 'gsm7',
  parts: 1,
  status: 'queued',
  errorCode: null,
  acceptedAt: '2025-01-01T12:00:00.000Z',
  sentAt: null,
  doneAt: null,
};

function violation(run: () => void): ContractViolation {
  try {
    run();
  } catch (error) {
    if (error instanceof ContractViolation) return error;
    throw error;
  }
  assert.fail('expected a ContractViolation');
}

test('a documented response passes', () => {
  contract.validateResponse('POST', '/v1/messages', 202, 'application/json; charset=utf-8', message);
  contract.validateResponse('GET', '/v1/messages/msg_1?x=1', 200, 'application/json', message);
  contract.validateResponse('DELETE', '/v1/webhooks/wh_1', 204, undefined, undefined);
  contract.validateResponse('GET', '/v1/trunks', 401, 'application/json', {
    message: 'No API key found in request',
  });
});

test('a wrong body names the operation, the status and the field', () => {
  const error = violation(() =>
    contract.validateResponse('POST', '/v1/messages', 202, 'application/json', {
      ...message,
      status: 'lost',
      secret: 'x',
    }),
  );
  assert.equal(error.operation, 'POST /v1/messages (sendMessage)');
  assert.equal(error.status, 202);
  assert.ok(
    error.problems.some((p) => p.startsWith('/status must be equal to one of the allowed values')),
    error.message,
  );
  assert.ok(
    error.problems.some((p) => p.includes('"secret"')),
    error.message,
  );
});

test('a leaked secret on a read is a violation (resources are closed)', () => {
  const customer = {
    id: 'cus_1',
    name: 'Acme',
    tier: 'premium',
    createdAt: '2025-01-01T12:00:00.000Z',
    status: 'active',
  };
  contract.validateResponse('GET', '/v1/customers/cus_1', 200, 'application/json', customer);
  violation(() =>
    contract.validateResponse('GET', '/v1/customers/cus_1', 200, 'application/json', {
      ...customer,
      apiKey: 'k',
    }),
  );
});

test('an undocumented status, media type or operation is a violation', () => {
  assert.match(
    violation(() => contract.validateResponse('GET', '/v1/trunks', 418, 'application/json', {})).message,
    /status 418 is not documented/,
  );
  assert.match(
    violation(() =>
      contract.validateResponse('POST', '/v1/messages', 422, 'application/json', {
        type: 'x',
        title: 't',
        status: 422,
        errors: [{ field: 'f', message: 'm' }],
      }),
    ).message,
    /media type "application\/json" is not documented/,
  );
  assert.match(
    violation(() => contract.validateResponse('GET', '/v9/nothing', 200, 'application/json', {})).message,
    /no such operation/,
  );
  assert.match(
    violation(() => contract.validateResponse('DELETE', '/v1/webhooks/wh_1', 204, 'text/plain', 'surprise'))
      .message,
    /no body/,
  );
});

test('a 422 must name the fields at fault', () => {
  const error = violation(() =>
    contract.validateResponse('POST', '/v1/numbers', 422, 'application/problem+json', {
      type: 'about:blank',
      title: 'Invalid',
      status: 422,
    }),
  );
  assert.ok(
    error.problems.some((p) => p.includes("required property 'errors'")),
    error.message,
  );
});

test('a violation message never shows secrets from the body', () => {
  const error = violation(() =>
    contract.validateResponse('GET', '/v1/trunks', 418, 'application/json', {
      apiKey: 'live-key-123',
      smpp: { systemId: 'acme', password: 'smpp-pw-456' },
      webhookSecret: 'whsec_789',
    }),
  );
  assert.match(error.message, /Body: .*"systemId":"acme"/);
  assert.doesNotMatch(error.message, /live-key-123|smpp-pw-456|whsec_789/);
  const text = violation(() =>
    contract.validateResponse('GET', '/v1/trunks', 418, 'text/plain', '{"apiKey": "live-key-123", broken'),
  );
  assert.doesNotMatch(text.message, /live-key-123/);
});
