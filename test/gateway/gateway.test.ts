import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { ApiError, PlatformApi, type CreatedCustomer } from '../../world/http/api-client';
import { traffic } from '../../world/traffic-log';
import { operatorApi, startTestPlatform, type TestPlatform } from './harness';

let platform: TestPlatform;
let operator: PlatformApi;

before(async () => {
  platform = await startTestPlatform({}, { webhooks: false });
  operator = operatorApi(platform);
});

after(async () => {
  await platform.stop();
});

const uniqueDid = (): string =>
  `+1415555${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}${Math.floor(Math.random() * 10)}`;

async function newCustomer(tier = 'standard'): Promise<{ created: CreatedCustomer; api: PlatformApi }> {
  const created = await operator.createCustomer({ name: `Acme ${randomBytes(3).toString('hex')}`, tier });
  return {
    created,
    api: new PlatformApi({ baseUrl: platform.apiUrl, apiKey: created.apiKey, actor: created.name }),
  };
}

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  assert.fail('expected the API to refuse the request');
}

describe('Kong key-auth and request ids', () => {
  test('a request without a key gets Kong’s 401 with a WWW-Authenticate challenge', async () => {
    const response = await operator.raw({
      method: 'POST',
      path: '/v1/messages',
      json: { from: '+14155550100', to: '+447700900123', text: 'x' },
      apiKey: null,
    });
    assert.equal(response.status, 401);
    assert.deepEqual(response.body, { message: 'No API key found in request' });
    assert.equal(response.headers['www-authenticate'], 'Key realm="kong"');
  });

  test('an unknown key gets Kong’s "Invalid authentication credentials"', async () => {
    const response = await operator.raw({ method: 'GET', path: '/v1/trunks', apiKey: 'not-a-key' });
    assert.equal(response.status, 401);
    assert.deepEqual(response.body, { message: 'Invalid authentication credentials' });
  });

  test('every response carries X-Request-Id (echoed when given) and X-Kong-Request-Id', async () => {
    const echoed = await operator.raw({
      method: 'GET',
      path: '/health',
      headers: { 'X-Request-Id': 'trace-42' },
    });
    assert.equal(echoed.headers['x-request-id'], 'trace-42');
    assert.match(String(echoed.headers['x-kong-request-id']), /^[0-9a-f]{32}$/);
    const refused = await operator.raw({
      method: 'GET',
      path: '/v1/trunks',
      apiKey: null,
      headers: { 'X-Request-Id': 'trace-43' },
    });
    assert.equal(refused.headers['x-request-id'], 'trace-43');
  });

  test('health and the contract need no key', async () => {
    assert.deepEqual(await operator.health(), { status: 'ok', version: platform.config.version });
    const contract = await operator.raw({ method: 'GET', path: '/openapi.yaml', apiKey: null });
    assert.equal(contract.status, 200);
    assert.match(String(contract.body), /^openapi: 3\.1/);
  });

  test('a customer key on an operator route is 403, and the operator key on a customer route too', async () => {
    const { api } = await newCustomer();
    const asCustomer = await rejection(api.createCustomer({ name: 'sneaky', tier: 'premium' }));
    assert.equal(asCustomer.status, 403);
    assert.equal((await rejection(api.putRoute({ prefix: '+44', connectorId: 'x' }))).status, 403);
    assert.equal((await rejection(operator.listTrunks())).status, 403);
  });

  test('unknown routes get Kong’s 404; a known path with another method gets 405 with Allow', async () => {
    const unknown = await operator.raw({ method: 'GET', path: '/v2/nothing', skipContract: true });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, { message: 'no Route matched with those values' });
    const wrongMethod = await operator.raw({ method: 'PATCH', path: '/v1/trunks', skipContract: true });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.allow, 'POST, GET');
  });

  test('a wrong method on a protected path is authenticated first: no key or a bad key is 401, without Allow', async () => {
    const noKey = await operator.raw({
      method: 'PATCH',
      path: '/v1/trunks',
      apiKey: null,
      skipContract: true,
    });
    assert.deepEqual([noKey.status, noKey.body], [401, { message: 'No API key found in request' }]);
    assert.equal(noKey.headers.allow, undefined);
    const badKey = await operator.raw({
      method: 'DELETE',
      path: '/ops/v1/smsc/routes',
      apiKey: 'not-a-key',
      skipContract: true,
    });
    assert.deepEqual([badKey.status, badKey.body], [401, { message: 'Invalid authentication credentials' }]);
    assert.equal(badKey.headers.allow, undefined);
    const { api } = await newCustomer();
    const authenticated = await api.raw({ method: 'DELETE', path: '/v1/trunks/trk_x', skipContract: true });
    assert.deepEqual([authenticated.status, authenticated.headers.allow], [405, 'GET, PATCH']);
    // A path with only public routes needs no key to learn its methods.
    const publicPath = await operator.raw({
      method: 'POST',
      path: '/health',
      apiKey: null,
      skipContract: true,
    });
    assert.deepEqual([publicPath.status, publicPath.headers.allow], [405, 'GET']);
  });
});

describe('key in the query string (refused: Kong key_in_query=false)', () => {
  /** Plain fetch: the suite's client would record the query-string key in its traffic log. */
  const get = (path: string, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${platform.apiUrl}${path}`, { headers });
  const QUERY_REFUSAL =
    'API keys are not accepted in the query string (URLs end up in logs): send the key in the apikey header';

  test('?apikey= is a 401 naming the header, valid key or not, and even beside a valid header key', async () => {
    const { created } = await newCustomer();
    const viaQuery = await get(`/v1/trunks?apikey=${encodeURIComponent(created.apiKey)}`);
    assert.equal(viaQuery.status, 401);
    assert.deepEqual(await viaQuery.json(), { message: QUERY_REFUSAL });

    const wrong = await get('/v1/trunks?APIKEY=x&apikey=not-a-key');
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { message: QUERY_REFUSAL });

    const both = await get(`/v1/trunks?apikey=${encodeURIComponent(created.apiKey)}`, {
      apikey: created.apiKey,
    });
    assert.equal(both.status, 401, 'a key in the URL is refused even when the header carries one');
    await both.body?.cancel();
    const headerOnly = await get('/v1/trunks', { apikey: created.apiKey });
    assert.equal(headerOnly.status, 200);
    await headerOnly.body?.cancel();
  });

  test('a key sent in the URL never reaches the access log or a response', async () => {
    const { created } = await newCustomer();
    const before = platform.logs.length;
    const refused = await get(`/v1/cdrs?limit=2&apikey=${encodeURIComponent(created.apiKey)}`);
    const refusedText = await refused.text();
    const bad = await get('/v1/cdrs?APIKEY=x&apikey=wrong-secret-key');
    const badText = await bad.text();
    const lines = platform.logs.slice(before);
    assert.equal(lines.length, 2);
    assert.equal(refused.status, 401);
    for (const text of [...lines, refusedText, badText, JSON.stringify([...refused.headers])]) {
      assert.ok(!text.includes(created.apiKey), `the key leaked into: ${text}`);
      assert.ok(!text.includes('wrong-secret-key'), `a wrong key leaked into: ${text}`);
    }
    assert.match(lines[0], /GET \/v1\/cdrs\?limit=2&apikey=\*\*\* → 401/);
  });
});

describe('request bodies', () => {
  test('invalid JSON is a 400 problem+json', async () => {
    const { api } = await newCustomer();
    const response = await api.raw({
      method: 'POST',
      path: '/v1/messages',
      body: '{"from": "+15550100", "to": ',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(response.status, 400);
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
    assert.equal((response.body as { status: number }).status, 400);
  });

  test('a body over 1 MiB is a 413 problem', async () => {
    const { api } = await newCustomer();
    const response = await api.raw({
      method: 'POST',
      path: '/v1/numbers',
      body: `"${'x'.repeat(1024 * 1024)}"`,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(response.status, 413);
  });

  test('a body that is not declared as JSON is a 415 problem', async () => {
    const { api } = await newCustomer();
    const response = await api.raw({
      method: 'POST',
      path: '/v1/numbers',
      body: 'number=+14155550100',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(response.status, 415);
  });

  test('validation failures are 422 and name every field at fault', async () => {
    const { api } = await newCustomer();
    const error = await rejection(api.addNumber({ number: '4155550100', kind: 'local' }));
    assert.equal(error.status, 422);
    assert.deepEqual(error.fields(), ['number']);
    const many = await rejection(
      api
        .raw({
          method: 'POST',
          path: '/v1/trunks',
          json: { name: '', host: 'pbx', port: 70000, transport: 'tcp', extra: 1 },
        })
        .then(toError),
    );
    assert.deepEqual(many.fields().sort(), ['extra', 'host', 'name', 'port', 'transport']);
  });

  test('malformed HTTP gets 400 and the gateway keeps serving', async () => {
    const { port } = new URL(platform.apiUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('NONSENSE\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400/);
    assert.equal((await operator.health()).status, 'ok');
  });
});

/** Turns a raw 4xx into the ApiError a typed method would have thrown. */
function toError(response: { status: number; body: unknown }): never {
  throw new ApiError('RAW', '', response.status, response.body as ApiError['problem'], undefined);
}

describe('customers, numbers, accounts, trunks', () => {
  test('creating a customer returns its secrets once; reading it back shows none', async () => {
    const mark = traffic.mark();
    const { created, api } = await newCustomer('call-center');
    assert.equal(created.tier, 'call-center');
    assert.ok(
      created.apiKey.length >= 16 && created.smpp.systemId.length <= 15 && created.smpp.password.length <= 8,
    );
    const read = await api.getCustomer(created.id);
    assert.deepEqual(read, {
      id: created.id,
      name: created.name,
      tier: 'call-center',
      createdAt: created.createdAt,
      status: 'active',
    });
    const evidence = traffic
      .since(mark, 'HTTP')
      .map((e) => e.detail ?? '')
      .join('\n');
    assert.ok(!evidence.includes(created.apiKey), 'the API key must be redacted from recorded traffic');
    assert.ok(
      !evidence.includes(created.smpp.password),
      'the SMPP password must be redacted from recorded traffic',
    );
    assert.ok(
      !evidence.includes(platform.adminApiKey),
      'the operator key must be redacted from recorded traffic',
    );
    assert.match(evidence, /"apiKey": "\*\*\*"/);
    assert.match(evidence, /^apikey: \*\*\*$/m);
  });

  test('another customer’s resources are 404, never 403', async () => {
    const alice = await newCustomer();
    const mallory = await newCustomer();
    const number = uniqueDid();
    await alice.api.addNumber({ number, kind: 'local' });
    const trunk = await alice.api.createTrunk({
      name: 'pbx',
      host: '127.0.0.1',
      port: 5070,
      transport: 'udp',
    });
    assert.equal((await rejection(mallory.api.getTrunk(trunk.id))).status, 404);
    assert.equal((await rejection(mallory.api.getCustomer(alice.created.id))).status, 404);
    const message = await alice.api.sendMessage({ from: number, to: '+447700900123', text: 'hi' });
    assert.equal((await rejection(mallory.api.getMessage(message.id))).status, 404);
    assert.deepEqual(await alice.api.getTrunk(trunk.id), trunk);
  });

  test('a number can be owned once; sip accounts need an owned number and a free username', async () => {
    const { api } = await newCustomer();
    const other = await newCustomer();
    const number = uniqueDid();
    assert.deepEqual((await api.addNumber({ number, kind: 'local' })).number, number);
    assert.equal((await rejection(other.api.addNumber({ number, kind: 'local' }))).status, 409);
    assert.equal((await api.addNumber({ number: '12345', kind: 'short-code' })).kind, 'short-code');
    assert.deepEqual(
      (await api.listNumbers()).items.map((n) => n.number),
      [number, '12345'],
    );

    const username = `alice-${randomBytes(4).toString('hex')}`;
    const account = await api.createSipAccount({ username, password: 'correct horse', number });
    assert.deepEqual(
      { ...account, createdAt: undefined },
      {
        username,
        number,
        domain: platform.config.sip.domain,
        mobile: null,
        missedCallSms: false,
        forwardTo: null,
        callerId: null,
        voicemail: false,
        createdAt: undefined,
      },
    );
    assert.equal(
      (await rejection(api.createSipAccount({ username, password: 'correct horse', number }))).status,
      409,
    );
    const notOwned = await rejection(
      other.api.createSipAccount({ username: `${username}x`, password: 'correct horse', number }),
    );
    assert.deepEqual([notOwned.status, notOwned.fields()], [422, ['number']]);
  });

  test('a trunk host outside network.allowedPeerHosts is a 422 naming the field and the rule', async () => {
    const { api } = await newCustomer();
    for (const host of ['carrier.example', '10.0.0.7', '::ffff:a00:7', '127.1']) {
      const error = await rejection(api.createTrunk({ name: 't', host, port: 5060, transport: 'udp' }));
      assert.deepEqual([error.status, error.fields()], [422, ['host']], host);
      assert.match(error.problem?.errors?.[0].message ?? '', /network\.allowedPeerHosts/);
    }
    for (const host of ['127.0.0.1', '127.20.30.40', 'LOCALHOST', '::1']) {
      assert.equal((await api.createTrunk({ name: 't', host, port: 5060, transport: 'udp' })).host, host);
    }
  });

  test('a trunk’s caller id must be an owned number', async () => {
    const { api } = await newCustomer();
    const error = await rejection(
      api.createTrunk({
        name: 't',
        host: '127.0.0.1',
        port: 5060,
        transport: 'udp',
        callerId: uniqueDid(),
      }),
    );
    assert.deepEqual([error.status, error.fields()], [422, ['callerId']]);
    const number = uniqueDid();
    await api.addNumber({ number, kind: 'local' });
    const trunk = await api.createTrunk({
      name: 't',
      host: '127.0.0.1',
      port: 5060,
      transport: 'udp',
      callerId: number,
      destinationPrefixes: ['+44'],
    });
    assert.deepEqual([trunk.callerId, trunk.destinationPrefixes], [number, ['+44']]);
    assert.deepEqual((await api.listTrunks()).items, [trunk]);
  });
});

describe('messages', () => {
  test('a text from an owned number is accepted as queued and readable', async () => {
    const { api } = await newCustomer();
    const number = uniqueDid();
    await api.addNumber({ number, kind: 'local' });
    const message = await api.sendMessage({ from: number, to: '+447700900123', text: 'Hello' });
    assert.deepEqual(
      [message.status, message.from, message.to, message.text],
      ['queued', number, '+447700900123', 'Hello'],
    );
    assert.deepEqual(await api.getMessage(message.id), message);
    assert.equal((await api.sendMessage({ from: 'ACME', to: '+447700900123', text: 'x' })).from, 'ACME');
  });

  test('a sender the customer does not own, or a recipient the SMSC refuses, is a 422 naming the field', async () => {
    const { api } = await newCustomer();
    const notOwned = await rejection(api.sendMessage({ from: uniqueDid(), to: '+447700900123', text: 'x' }));
    assert.deepEqual([notOwned.status, notOwned.fields()], [422, ['from']]);
    const tooLongSender = await rejection(
      api.sendMessage({ from: 'ACME CORPORATION', to: '+447700900123', text: 'x' }),
    );
    assert.deepEqual(tooLongSender.fields(), ['from']);
    const badRecipient = await rejection(api.sendMessage({ from: 'ACME', to: 'nobody', text: 'x' }));
    assert.deepEqual([badRecipient.status, badRecipient.fields()], [422, ['to']]);
  });
});

describe('call records', () => {
  test('only the caller’s own CDRs, filtered and paged without gaps or repeats', async () => {
    const { created, api } = await newCustomer();
    const other = await newCustomer();
    const insert = platform.db.prepare(
      `INSERT INTO cdrs (id, customer_id, sip_call_id, caller, callee, trunk_id, direction, started_at, answered_at, ended_at,
         duration_ms, billable_seconds, disposition, sip_status, hangup_by, media)
       VALUES (?, ?, ?, '+14155550100', '+447700900123', NULL, 'internal', ?, ?, ?, 1500, 2, ?, ?, 'caller', '{"aToB":{"packets":75}}')`,
    );
    for (let i = 0; i < 5; i += 1) {
      const at = new Date(Date.UTC(2025, 0, 1, 12, 0, i)).toISOString();
      insert.run(
        `cdr_${created.id}_${i}`,
        created.id,
        `call-${i}@test`,
        at,
        i === 4 ? null : at,
        at,
        i === 4 ? 'busy' : 'answered',
        i === 4 ? 486 : 200,
      );
    }
    insert.run(
      `cdr_${other.created.id}`,
      other.created.id,
      'call-0@test',
      new Date().toISOString(),
      null,
      new Date().toISOString(),
      'busy',
      486,
    );

    const byCallId = await api.listCdrs({ sipCallId: 'call-0@test' });
    assert.deepEqual(
      byCallId.items.map((c) => c.id),
      [`cdr_${created.id}_0`],
    );
    assert.deepEqual(byCallId.items[0].media, { aToB: { packets: 75 } });
    assert.deepEqual(
      (await api.listCdrs({ disposition: 'busy' })).items.map((c) => c.sipStatus),
      [486],
    );

    const seen: string[] = [];
    let page = await api.listCdrs({ limit: 2 });
    seen.push(...page.items.map((c) => c.id));
    while (page.nextCursor) {
      page = await api.listCdrs({ limit: 2, cursor: page.nextCursor });
      seen.push(...page.items.map((c) => c.id));
    }
    assert.deepEqual(
      seen,
      [4, 3, 2, 1, 0].map((i) => `cdr_${created.id}_${i}`),
    );
    assert.equal((await api.listCdrs({ since: '2025-01-01T12:00:03Z' })).items.length, 2);
    assert.equal((await api.getCdr(`cdr_${created.id}_1`)).disposition, 'answered');
    assert.equal((await rejection(other.api.getCdr(`cdr_${created.id}_1`))).status, 404);
    assert.deepEqual((await rejection(api.listCdrs({ limit: 0 }))).fields(), ['limit']);
  });
});

describe('webhooks and operations', () => {
  test('webhook subscriptions: secret once, listed without it, deleted with 204', async () => {
    const { api } = await newCustomer();
    const created = await api.createWebhook({
      url: 'http://127.0.0.1:9/hook',
      events: ['message.*', 'call.completed'],
    });
    assert.match(created.secret, /^whsec_/);
    assert.deepEqual((await api.listWebhooks()).items, [
      {
        id: created.id,
        url: created.url,
        events: created.events,
        format: 'phase2',
        createdAt: created.createdAt,
      },
    ]);
    const badEvent = await rejection(
      api.createWebhook({ url: 'ftp://x', events: ['message.sent', 'sms.*'] }),
    );
    assert.deepEqual(badEvent.fields().sort(), ['events[1]', 'url']);
    assert.equal(
      (await api.createWebhook({ url: 'http://[::1]:9/h', events: ['message.*'] })).url,
      'http://[::1]:9/h',
    );
    await api.deleteWebhook(created.id);
    assert.equal((await rejection(api.deleteWebhook(created.id))).status, 404);
  });

  test('a webhook url must be http(s) to an allowed host: else a 422 naming the field and the rule', async () => {
    const { api } = await newCustomer();
    const cases: Array<[string, RegExp]> = [
      ['https://hooks.example.com/phase2', /host hooks\.example\.com .*network\.allowedPeerHosts/],
      ['http://169.254.169.254/latest/meta-data', /host 169\.254\.169\.254 /],
      ['ftp://127.0.0.1/hook', /http or https URL \(got ftp\)/],
      ['file:///etc/passwd', /http or https URL \(got file\)/],
      ['not a url', /absolute http or https URL/],
    ];
    for (const [url, rule] of cases) {
      const error = await rejection(api.createWebhook({ url, events: ['message.*'] }));
      assert.deepEqual([error.status, error.fields()], [422, ['url']], url);
      assert.match(error.problem?.errors?.[0].message ?? '', rule, url);
    }
    // The WHATWG parser canonicalises 0x7f.1 to 127.0.0.1: loopback, so allowed.
    assert.equal(
      (await api.createWebhook({ url: 'http://0x7f.1:9/h', events: ['call.completed'] })).url,
      'http://0x7f.1:9/h',
    );
  });

  test('a connector host outside network.allowedPeerHosts is a 422', async () => {
    const error = await rejection(
      operator.putConnector('carrier-x', { host: 'smsc.example', port: 2775, systemId: 's', password: 'p' }),
    );
    assert.deepEqual([error.status, error.fields()], [422, ['host']]);
  });

  test('connectors and routes are operator settings passed to the SMSC', async () => {
    const status = await operator.putConnector('carrier-1', {
      host: '127.0.0.1',
      port: 2775,
      systemId: 'phase2',
      password: 'secret',
    });
    assert.deepEqual(status, {
      id: 'carrier-1',
      host: '127.0.0.1',
      port: 2775,
      systemId: 'phase2',
      state: 'connecting',
      lastError: null,
    });
    assert.deepEqual(
      (await operator.listConnectors()).items.map((c) => c.id),
      ['carrier-1'],
    );
    assert.deepEqual(await operator.putRoute({ prefix: '+44770', connectorId: 'carrier-1' }), {
      prefix: '+44770',
      connectorId: 'carrier-1',
    });
    assert.equal(platform.smsc.routes.get('+44770'), 'carrier-1');
    const unknown = await rejection(operator.putRoute({ prefix: '', connectorId: 'nope' }));
    assert.deepEqual([unknown.status, unknown.fields()], [422, ['connectorId']]);
  });

  test('the operator deletes routes (prefix percent-encoded) and connectors with their routes; unknown ids are 404', async () => {
    const connector = { host: '127.0.0.1', port: 2775, systemId: 'phase2', password: 'secret' };
    await operator.putConnector('carrier-del', connector);
    await operator.putRoute({ prefix: '+4420', connectorId: 'carrier-del' });
    await operator.putRoute({ prefix: '+4421', connectorId: 'carrier-del' });

    const { api } = await newCustomer();
    assert.equal((await rejection(api.deleteRoute('+4420'))).status, 403);
    assert.equal((await rejection(api.deleteConnector('carrier-del'))).status, 403);

    await operator.deleteRoute('+4420');
    assert.equal(platform.smsc.routes.has('+4420'), false);
    assert.equal((await rejection(operator.deleteRoute('+4420'))).status, 404);

    await operator.deleteConnector('carrier-del');
    assert.equal(platform.smsc.routes.has('+4421'), false, 'routes to a removed connector go with it');
    assert.ok(!(await operator.listConnectors()).items.some((c) => c.id === 'carrier-del'));
    const again = await rejection(operator.deleteConnector('carrier-del'));
    assert.equal(again.status, 404);
    assert.equal(again.problem?.type?.endsWith('not-found'), true, JSON.stringify(again.problem));
  });
});

describe('webhook formats', () => {
  test('the Jasmin DLR dialect is for message reports only; the format is listed', async () => {
    const { api } = await newCustomer();
    const jasmin = await api.createWebhook({
      url: 'http://127.0.0.1:9/dlr',
      events: ['message.*'],
      format: 'jasmin',
    });
    assert.equal(jasmin.format, 'jasmin');
    const calls = await rejection(
      api.createWebhook({ url: 'http://127.0.0.1:9/dlr', events: ['call.completed'], format: 'jasmin' }),
    );
    assert.deepEqual([calls.status, calls.fields()], [422, ['events']]);
    assert.deepEqual(
      (await api.listWebhooks()).items.map((w) => w.format),
      ['jasmin'],
    );
  });
});
