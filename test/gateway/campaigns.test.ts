import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PlatformApi, RawResponse } from '../../world/http/api-client';
import { newCustomerApi, startTestPlatform, type TestPlatform } from './harness';

let platform: TestPlatform;
let api: PlatformApi;
const LOCAL = `+1415555${String(Math.floor(Math.random() * 9000) + 1000)}`;

before(async () => {
  platform = await startTestPlatform({}, { webhooks: false });
  api = await newCustomerApi(platform, 'Campaigns');
  await api.addNumber({ number: LOCAL, kind: 'local' });
});

after(async () => {
  await platform.stop();
});

function fields(response: RawResponse): string[] {
  return ((response.body as { errors?: Array<{ field: string }> }).errors ?? []).map((e) => e.field);
}

const upload = (path: string, body: string, contentType = 'text/csv'): Promise<RawResponse> =>
  api.raw({ method: 'POST', path, body, headers: { 'content-type': contentType } });

test('contact list upload: CSV only, a name, a readable file with at least one usable row', async () => {
  const json = await upload('/v1/contact-lists?name=x', '{"number":"+447700900001"}', 'application/json');
  assert.equal(json.status, 415);
  assert.deepEqual(fields(await upload('/v1/contact-lists', 'number\n+447700900001\n')), ['name']);
  const unreadable = await upload('/v1/contact-lists?name=x', 'phone\n+447700900001\n');
  assert.deepEqual(fields(unreadable), ['csv']);
  assert.match(JSON.stringify(unreadable.body), /no \\"number\\" column/);
  const nobody = await upload('/v1/contact-lists?name=x', 'number\n0770\n');
  assert.deepEqual(fields(nobody), ['csv']);
  assert.match(JSON.stringify(nobody.body), /line 2/);
});

test('campaign: refused when the list lacks a column the template uses, or the start is past', async () => {
  const template = await api.createTemplate({ name: 'offer', body: 'Hi {{name}}, {{offer}} off' });
  const list = await api.uploadContactList('names only', 'number,name\n+447700900001,Ann\n');
  const missing = await api.raw({
    method: 'POST',
    path: '/v1/campaigns',
    json: { name: 'c', from: LOCAL, templateId: template.id, contactListId: list.id },
  });
  assert.deepEqual(fields(missing), ['templateId']);
  assert.match(JSON.stringify(missing.body), /\{\{offer\}\}/);
  const past = await api.raw({
    method: 'POST',
    path: '/v1/campaigns',
    json: {
      name: 'c',
      from: 'NOT MINE 123',
      templateId: 'tpl_x',
      contactListId: list.id,
      startAt: '2020-01-01T00:00:00Z',
    },
  });
  assert.deepEqual(fields(past).sort(), ['from', 'startAt', 'templateId']);
});

test('campaign lifecycle: only allowed transitions; cancelling a draft counts every contact as cancelled', async () => {
  const template = await api.createTemplate({ name: 'plain', body: 'Hello {{name}}' });
  const list = await api.uploadContactList('two', 'number,name\n+447700900001,Ann\n+447700900002,Bo\n');
  const draft = await api.createCampaign({
    name: 'c',
    from: LOCAL,
    templateId: template.id,
    contactListId: list.id,
  });
  assert.equal(draft.status, 'draft');
  for (const action of ['pause', 'resume'] as const) {
    const refused = await api.raw({ method: 'POST', path: `/v1/campaigns/${draft.id}/${action}` });
    assert.equal(refused.status, 409, action);
  }
  const deleteTemplate = await api.raw({ method: 'DELETE', path: `/v1/templates/${template.id}` });
  assert.equal(deleteTemplate.status, 409, 'a draft still needs its template');
  const cancelled = await api.changeCampaign(draft.id, 'cancel');
  assert.equal(cancelled.status, 'cancelled');
  assert.deepEqual(cancelled.stats, {
    contacts: 2,
    pending: 0,
    sent: 0,
    delivered: 0,
    failed: 0,
    optedOut: 0,
    cancelled: 2,
  });
  assert.equal((await api.raw({ method: 'POST', path: `/v1/campaigns/${draft.id}/start` })).status, 409);
  assert.equal((await api.raw({ method: 'DELETE', path: `/v1/templates/${template.id}` })).status, 204);
  assert.equal(
    (await api.getCampaign(draft.id)).templateId,
    template.id,
    'the finished campaign still names it',
  );
});

test('opt-outs through the API: recorded once, sending to the number is refused, removal allows it again', async () => {
  const number = '+447700900777';
  const first = await api.raw({ method: 'POST', path: '/v1/opt-outs', json: { number } });
  assert.equal(first.status, 201);
  assert.equal((await api.raw({ method: 'POST', path: '/v1/opt-outs', json: { number } })).status, 200);
  assert.deepEqual(
    fields(await api.raw({ method: 'POST', path: '/v1/opt-outs', json: { number: '0770' } })),
    ['number'],
  );
  const send = await api.raw({
    method: 'POST',
    path: '/v1/messages',
    json: { from: LOCAL, to: number, text: 'hi' },
  });
  assert.deepEqual(fields(send), ['to']);
  assert.equal(
    (await api.raw({ method: 'DELETE', path: `/v1/opt-outs/${encodeURIComponent(number)}` })).status,
    204,
  );
  assert.equal(
    (await api.raw({ method: 'DELETE', path: `/v1/opt-outs/${encodeURIComponent(number)}` })).status,
    404,
  );
  const again = await api.raw({
    method: 'POST',
    path: '/v1/messages',
    json: { from: LOCAL, to: number, text: 'hi' },
  });
  assert.equal(again.status, 202);
});
