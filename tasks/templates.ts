import { randomUUID } from 'node:crypto';
import { DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import type { Template } from '../world/http/api-client';
import { EVIDENCE } from '../reporting/evidence';
import { customerNumber, finalStatusOf } from './messaging';
import { bound, PLATFORM_LOG } from './waiting';

/** Message templates through the API, and texts sent with them. */

function templateOf(world: Phase2World, name: string): Template {
  const found = [...world.customers.values()].find((c) => c.templates.has(name))?.templates.get(name);
  if (!found) throw new Error(`No template "${name}" in this scenario: a Given step must create it.`);
  return found;
}

/** Given {string} has a template {string} reading {string} */
export async function createTemplate(world: Phase2World, customerName: string, name: string, body: string) {
  const api = world.customer(customerName).api;
  const template = await api.createTemplate({ name, body }).catch(async (error: unknown) => {
    throw await whyRefused(world, customerName, name, body, error);
  });
  expect(template, `template "${name}" as created`).to.deep.include({ name, body });
  world.customer(customerName).templates.set(name, template);
}

/**
 * Names a refused template's cause when it is the name: the customer has no template of that
 * name, yet the same wording under a fresh name is taken, so the name must be held by another
 * customer, and names are each customer's own. Otherwise the platform's answer stands.
 */
async function whyRefused(
  world: Phase2World,
  customerName: string,
  name: string,
  body: string,
  error: unknown,
): Promise<unknown> {
  const api = world.customer(customerName).api;
  const own = (await api.listTemplates()).items.map((t) => t.name);
  if (own.includes(name)) return error;
  const probe = await api.createTemplate({ name: `${name} ${randomUUID()}`, body }).catch(() => undefined);
  if (!probe) return error;
  await api.deleteTemplate(probe.id);
  const inScenario = [...world.customers.entries()]
    .filter(([other, actor]) => other !== customerName && actor.templates.has(name))
    .map(([other]) => `"${other}"`);
  return new Error(
    `"${customerName}" could not name its template "${name}" though it has none of that name (its ` +
      `templates: ${JSON.stringify(own)}), while the same wording under a fresh name was taken: the name ` +
      `is held by another customer${inScenario.length ? ` (${inScenario.join(', ')} in this scenario)` : ''}, ` +
      `and template names must be each customer's own. The platform answered: ${(error as Error).message}`,
  );
}

/** Then {string} reads the template {string} back with the variables {string} */
export async function expectTemplateReadsBackWithVariables(
  world: Phase2World,
  customerName: string,
  name: string,
  variables: string,
) {
  const api = world.customer(customerName).api;
  const created = templateOf(world, name);
  const read = await api.getTemplate(created.id);
  expect(read, `template "${name}" read back`).to.deep.equal(created);
  expect(read.variables, `variables of "${name}", in order`).to.deep.equal(variables.split(/,\s*/));
  const listed = await api.listTemplates();
  expect(
    listed.items.map((t) => t.id),
    `"${customerName}"'s templates`,
  ).to.include(created.id);
}

/** When {string} changes the template {string} to read {string} */
export async function changeTemplate(world: Phase2World, customerName: string, name: string, body: string) {
  const created = templateOf(world, name);
  const replaced = await world.customer(customerName).api.replaceTemplate(created.id, { name, body });
  expect(replaced, `template "${name}" after the change`).to.deep.include({ id: created.id, name, body });
  expect(Date.parse(replaced.updatedAt), 'updatedAt moves forward').to.be.at.least(
    Date.parse(created.updatedAt),
  );
  world.customer(customerName).templates.set(name, replaced);
}

/** When {string} texts {person} with the template {string} and these values: */
export async function textWithTemplate(
  world: Phase2World,
  customerName: string,
  name: string,
  template: string,
  table: DataTable,
) {
  const from = customerNumber(world, customerName);
  const to = world.person(name).number;
  const variables = table.rowsHash();
  const requestedAt = Date.now();
  world.refusals.lastResponse = await world.customer(customerName).api.raw({
    method: 'POST',
    path: '/v1/messages',
    json: { from, to, templateId: templateOf(world, template).id, variables },
  });
  if (world.refusals.lastResponse.status === 202) {
    const message = world.refusals.lastResponse.body as { id: string; text: string };
    world.messaging.message = {
      id: message.id,
      customer: customerName,
      from,
      to,
      text: message.text,
      acceptedAt: requestedAt,
    };
  }
}

/** Then {person}'s phone receives exactly {string} from {string}'s number */
export async function expectTemplatedTextFromTheNumber(
  world: Phase2World,
  name: string,
  expected: string,
  customerName: string,
) {
  expect(world.refusals.lastResponse?.status, `HTTP status of the send (see "${EVIDENCE.HTTP}")`).to.equal(
    202,
  );
  const inbox = world.mobileNetwork.handset(world.person(name).number).inbox;
  const received = await inbox.waitFor(
    () => true,
    bound(world, `the text on ${name}'s phone`, { lookAt: [EVIDENCE.SMPP, PLATFORM_LOG] }),
  );
  expect(received.text, `text on ${name}'s phone`).to.equal(expected);
  expect(received.from, `sender shown on ${name}'s phone`).to.equal(customerNumber(world, customerName));
  // Counted once the platform is done with the message: a second copy would be there by then.
  const final = await finalStatusOf(world, world.currentMessage());
  expect(
    inbox.all().map((sms) => sms.text),
    `texts on ${name}'s phone once the message was ${final.status}: exactly one copy`,
  ).to.deep.equal([expected]);
  expect(world.currentMessage().text, 'the text as the API stored it').to.equal(expected);
}

/** Then the send is refused, naming the variable {string} as missing */
export function expectRefusedNamingMissingVariable(world: Phase2World, variable: string) {
  const response = world.refusals.lastResponse;
  expect(response?.status, `HTTP status of the send (see "${EVIDENCE.HTTP}")`).to.equal(422);
  const errors = (response?.body as { errors?: Array<{ field: string; message: string }> }).errors ?? [];
  expect(
    errors.map((e) => e.field),
    'fields the refusal names',
  ).to.deep.equal([`variables.${variable}`]);
  expect(errors[0]?.message, 'the explanation').to.include(`{{${variable}}}`);
}

/** When {string} deletes the template {string} */
export async function deleteTemplate(world: Phase2World, customerName: string, name: string) {
  await world.customer(customerName).api.deleteTemplate(templateOf(world, name).id);
}

/** Then the template {string} is no longer among {string}'s templates, and reading it is "not found" */
export async function expectTemplateGone(world: Phase2World, name: string, customerName: string) {
  const api = world.customer(customerName).api;
  const id = templateOf(world, name).id;
  expect(
    (await api.listTemplates()).items.map((t) => t.id),
    'templates listed',
  ).to.not.include(id);
  const read = await api.raw({ method: 'GET', path: `/v1/templates/${id}` });
  expect(read.status, `reading the deleted template ${id}`).to.equal(404);
}

/** Then {string} cannot see or use {string}'s template {string} */
export async function expectCannotSeeOrUseTemplate(
  world: Phase2World,
  outsider: string,
  owner: string,
  name: string,
) {
  const api = world.customer(outsider).api;
  const id = world.customer(owner).templates.get(name)?.id;
  if (!id) throw new Error(`"${owner}" has no template "${name}" in this scenario.`);
  // The outsider sees exactly its own templates (one may share the name), never the owner's.
  expect(
    (await api.listTemplates()).items.map((t) => t.id),
    `"${outsider}"'s templates: only its own`,
  ).to.deep.equal([...world.customer(outsider).templates.values()].map((t) => t.id));
  expect(
    (
      await api.raw({
        method: 'GET',
        path: `/v1/templates/${id}`,
        refusal: { what: `"${outsider}" reading another customer's template`, by: 'the platform' },
      })
    ).status,
    `"${outsider}" reading it`,
  ).to.equal(404);
  expect(owner, 'whose template').to.not.equal(outsider);
  const send = await api.raw({
    method: 'POST',
    path: '/v1/messages',
    json: { from: 'HOOLI', to: world.newHandset(), templateId: id, variables: {} },
    refusal: { what: `"${outsider}" texting with another customer's template`, by: 'the platform' },
  });
  expect(send.status, `"${outsider}" sending with it`).to.equal(422);
  expect(
    ((send.body as { errors?: Array<{ field: string }> }).errors ?? []).map((e) => e.field),
    'fields the refusal names',
  ).to.deep.equal(['templateId']);
}
