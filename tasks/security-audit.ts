import { expect } from 'chai';
import type { AuditEvent, AuditFilter } from '../world/http/api-client';
import type { Phase2World, SuspectText } from '../world/world';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { PLATFORM_LOG } from './waiting';
import { onlyCampaign } from './campaign-runs';

/**
 * The audit trail as the security features see it (TEST-INT-050, 051, 052): suspensions,
 * rotations, refused keys, SIP bans and failed passwords, toll-fraud and call-cap refusals, spam
 * blocks. Each is read through the API twice — in the customer's own trail and in the operator's —
 * and must be there exactly once with who, what, from where and why. The platform writes an entry
 * before it answers (or drops) what it records, so the trail is read at once: an entry that is not
 * there by the time a later step looks is missing, not late.
 */

const REDACTED = '[redacted]';
const LOOK = `see "${EVIDENCE.HTTP}" and ${PLATFORM_LOG}`;

/** A customer's own trail and the operator's view of it, newest first (one page: a scenario's customer is new). */
async function bothTrails(
  world: Phase2World,
  customerName: string,
  filter: AuditFilter,
): Promise<{ own: AuditEvent[]; operators: AuditEvent[] }> {
  const customer = world.customer(customerName);
  const own = (await customer.api.listOwnAuditEvents({ ...filter, limit: 500 })).items;
  const operators = (await world.operator.listAuditEvents({ ...filter, customerId: customer.id, limit: 500 }))
    .items;
  attachJson(world, `Audit trail of ${customerName}${filter.action ? ` (${filter.action})` : ''}`, {
    own,
    operators,
  });
  return { own, operators };
}

/** The operator sees exactly the entries the customer sees (the same seqs), nothing more nor less. */
function expectOperatorSeesTheSame(own: AuditEvent[], operators: AuditEvent[], what: string): void {
  expect(
    operators.map((e) => `${e.seq} ${e.action} ${e.target ?? ''}`),
    `the operator's trail for ${what} vs the customer's own (${LOOK})`,
  ).to.deep.equal(own.map((e) => `${e.seq} ${e.action} ${e.target ?? ''}`));
}

/** Fails naming a secret found in clear, without printing it (failure messages land in reports). */
function expectNoneInClear(entries: AuditEvent[], secrets: Array<[string, string | undefined]>): void {
  const text = JSON.stringify(entries);
  const found = secrets.filter(([, secret]) => secret !== undefined && text.includes(secret)).map(([w]) => w);
  expect(found, 'secrets found in clear in the audit trail').to.deep.equal([]);
}

function statusOf(side: unknown): unknown {
  return (side as { status?: unknown } | null)?.status;
}

/** Then {string}'s audit trail and the operator's record the suspension and the resumption once each, by the operator, with the status before and after */
export async function expectSuspensionAudited(world: Phase2World, customerName: string) {
  for (const [action, before, after] of [
    ['customer.suspended', 'active', 'suspended'],
    ['customer.resumed', 'suspended', 'active'],
  ] as const) {
    const { own, operators } = await bothTrails(world, customerName, { action });
    expectOperatorSeesTheSame(own, operators, action);
    expect(
      own.map((e) => ({
        actor: e.actor.kind,
        sourceAddress: e.sourceAddress,
        underARequest: typeof e.requestId === 'string',
        before: statusOf(e.detail.before),
        after: statusOf(e.detail.after),
      })),
      `${action} entries in "${customerName}"'s trail: who, from where, under which request, before and after (${LOOK})`,
    ).to.deep.equal([
      { actor: 'operator', sourceAddress: world.env.config.suiteHost, underARequest: true, before, after },
    ]);
  }
}

/** What a suspended customer's refusal on each channel is recorded against. */
function refusedTargets(world: Phase2World, customerName: string): Record<string, string> {
  const customer = world.customer(customerName);
  const phone = [...world.people.values()].find((p) => p.customer === customerName && p.phone && p.sip);
  if (!phone?.sip) throw new Error(`Nobody in this scenario has a phone at "${customerName}".`);
  return { api: '/v1/numbers', smpp: customer.smpp.systemId, sip: phone.sip.username };
}

/** Then {string}'s audit trail records its refusals while suspended, on the API, at the SMPP bind and at the SIP registration */
export async function expectSuspendedRefusalsAudited(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const { own, operators } = await bothTrails(world, customerName, { action: 'access.denied' });
  expectOperatorSeesTheSame(own, operators, 'refusals while suspended');
  const suspended = (await customer.api.listOwnAuditEvents({ action: 'customer.suspended' })).items[0];
  const resumed = (await customer.api.listOwnAuditEvents({ action: 'customer.resumed' })).items[0];
  if (!suspended || !resumed)
    throw new Error(`"${customerName}" was not suspended and resumed in this scenario.`);
  const targets = refusedTargets(world, customerName);
  const perChannel = Object.entries(targets).map(([channel, target]) => {
    const mine = own.filter((e) => e.channel === channel);
    return {
      channel,
      recorded: mine.length > 0,
      targets: [...new Set(mine.map((e) => e.target))],
      actors: [...new Set(mine.map((e) => `${e.actor.kind} ${e.actor.id ?? ''}`))],
      addresses: [...new Set(mine.map((e) => e.sourceAddress))],
      whileSuspended: mine.every((e) => e.seq > suspended.seq && e.seq < resumed.seq),
      target,
    };
  });
  expect(
    perChannel,
    `access.denied entries of "${customerName}" per channel (refused while suspended; ${LOOK})`,
  ).to.deep.equal(
    Object.entries(targets).map(([channel, target]) => ({
      channel,
      recorded: true,
      targets: [target],
      actors: [`customer ${customer.id}`],
      // The suite's clients, phones and SMPP sessions all run on the suite's host.
      addresses: [world.env.config.suiteHost],
      whileSuspended: true,
      target,
    })),
  );
}

const ROTATIONS = {
  'API key': { action: 'api-key.rotated', secretField: 'apiKey' },
  'webhook signing secret': { action: 'webhook-secret.rotated', secretField: 'secret' },
} as const;
export type Rotated = keyof typeof ROTATIONS;

/** Then {string}'s audit trail records the rotation of its (API key|webhook signing secret) once, with neither the old nor the new one in it */
export async function expectRotationAudited(world: Phase2World, customerName: string, what: Rotated) {
  const customer = world.customer(customerName);
  const { action, secretField } = ROTATIONS[what];
  const { own, operators } = await bothTrails(world, customerName, { action });
  expectOperatorSeesTheSame(own, operators, `the rotation of ${customerName}'s ${what}`);
  expect(own.length, `${action} entries in "${customerName}"'s trail (${LOOK})`).to.equal(1);
  const [entry] = own;
  const field = (side: unknown): unknown => (side as Record<string, unknown> | null)?.[secretField];
  expect(
    {
      actor: `${entry.actor.kind} ${entry.actor.id ?? ''}`,
      sourceAddress: entry.sourceAddress,
      underARequest: typeof entry.requestId === 'string',
      after: field(entry.detail.after) === REDACTED ? REDACTED : 'not redacted',
    },
    `the ${action} entry: who, from where, under which request, the new ${what} redacted`,
  ).to.deep.equal({
    actor: `customer ${customer.id}`,
    sourceAddress: world.env.config.suiteHost,
    underARequest: true,
    after: REDACTED,
  });
  expect(entry.detail.before, `what the ${action} entry says was there before`).to.be.an('object');
  const keys = customer.identity?.keys;
  expectNoneInClear(own, [
    ['the old API key', keys?.get('old')],
    ['the new API key', keys?.get('new')],
    ['the new signing secret', customer.identity?.rotatedSecret?.secret],
  ]);
}

/** Then the operator's audit trail records the refused request without the key it carried */
export async function expectUrlKeyRefusalAudited(world: Phase2World) {
  const customerName = world.onlyCustomerName();
  const requestId = world.refusals.lastResponse?.headers['x-request-id'];
  if (typeof requestId !== 'string')
    throw new Error('No refused request in this scenario: a When step must send one.');
  const { items } = await world.operator.listAuditEvents({ requestIds: [requestId] });
  attachJson(world, 'Audit entries of the refused request', items);
  expect(
    items.map((e) => ({ action: e.action, target: e.target, sourceAddress: e.sourceAddress })),
    `the operator's audit entries for request ${requestId} (${LOOK})`,
  ).to.deep.equal([
    { action: 'auth.failed', target: '/v1/numbers', sourceAddress: world.env.config.suiteHost },
  ]);
  expectNoneInClear(items, [[`${customerName}'s API key`, world.customer(customerName).api.apiKey]]);
}

function attackOf(world: Phase2World) {
  const dictionary = world.refusals.sipAttack?.dictionary;
  if (!dictionary) throw new Error('No attacker has guessed a password in this scenario.');
  return dictionary;
}

async function banSettings(world: Phase2World) {
  const sipFraud = (await world.platformSettings()).security?.sipFraud;
  if (!sipFraud) throw new Error('GET /ops/v1/settings publishes no security.sipFraud.');
  return sipFraud;
}

/** Then the operator's audit trail records the ban of the attacker's address for trying {person}'s account, and so does {string}'s */
export async function expectBanAudited(world: Phase2World, name: string, customerName: string) {
  const attack = attackOf(world);
  const { authFailuresBeforeBan, banMs } = await banSettings(world);
  const { own, operators } = await bothTrails(world, customerName, { action: 'auth.banned' });
  expectOperatorSeesTheSame(own, operators, `the ban of ${attack.address}`);
  expect(
    own.map((e) => ({
      actor: e.actor.kind,
      channel: e.channel,
      target: e.target,
      sourceAddress: e.sourceAddress,
      failures: e.detail.failures,
      banMs: e.detail.banMs,
      accounts: e.detail.accounts,
    })),
    `auth.banned entries in "${customerName}"'s trail (the attacker guessed ${name}'s password from ${attack.address}; ${LOOK})`,
  ).to.deep.equal([
    {
      actor: 'platform',
      channel: 'sip',
      target: attack.address,
      sourceAddress: attack.address,
      failures: authFailuresBeforeBan,
      banMs,
      accounts: [attack.username],
    },
  ]);
}

/** Then each wrong password is in {string}'s audit trail as a failed sign-in to {person}'s account from the attacker's address, without the password */
export async function expectWrongPasswordsAudited(world: Phase2World, customerName: string, name: string) {
  const attack = attackOf(world);
  const { authFailuresBeforeBan } = await banSettings(world);
  const { own, operators } = await bothTrails(world, customerName, { action: 'auth.failed' });
  expectOperatorSeesTheSame(own, operators, 'failed SIP sign-ins');
  const sip = own.filter((e) => e.channel === 'sip');
  expect(
    sip.map((e) => `${e.target ?? ''} from ${e.sourceAddress ?? 'nowhere'} by ${e.actor.kind}`),
    `failed SIP sign-ins in "${customerName}"'s trail: one per wrong password the edge answered ` +
      `(${authFailuresBeforeBan} before the ban), none from ${name}'s own phone (${LOOK})`,
  ).to.deep.equal(
    Array.from(
      { length: authFailuresBeforeBan },
      () => `${attack.username} from ${attack.address} by anonymous`,
    ),
  );
  expectNoneInClear(
    sip,
    attack.tries.map((t, i) => [`guessed password #${i + 1}`, t.password]),
  );
}

type LimitedCall = NonNullable<Phase2World['refusals']['limitedCalls']>[number];

/** Then {string}'s audit trail and the operator's record each refused call on {person}'s account (as fraud|at the call limit) */
export async function expectRefusedCallsAudited(
  world: Phase2World,
  customerName: string,
  name: string,
  kind: 'fraud' | 'call-limit',
) {
  const username = world.person(name).sip?.username;
  if (!username) throw new Error(`${name} has no SIP account.`);
  const refused = (world.refusals.limitedCalls ?? []).filter((c: LimitedCall) => c.status === 403);
  if (refused.length === 0) throw new Error(`No call of ${name}'s was refused in this scenario.`);
  const action = kind === 'fraud' ? 'fraud.blocked' : 'call.limited';
  const { own, operators } = await bothTrails(world, customerName, { action });
  expectOperatorSeesTheSame(own, operators, `${name}'s refused calls`);
  const sipFraud = await banSettings(world);
  const tier = world.customer(customerName).tier;
  expect(
    own
      .map((e) => ({
        target: e.target,
        actor: `${e.actor.kind} ${e.actor.id ?? ''}`,
        sourceAddress: e.sourceAddress,
        callee: e.detail.callee,
        why: kind === 'fraud' ? e.detail.risk : e.detail.limit,
      }))
      .reverse(),
    `${action} entries in "${customerName}"'s trail, oldest first: one per refused call (${LOOK})`,
  ).to.deep.equal(
    refused.map((c) => ({
      target: username,
      actor: `customer ${world.customer(customerName).id}`,
      sourceAddress: world.env.config.suiteHost,
      callee: c.number,
      why:
        kind === 'fraud'
          ? sipFraud.premiumRatePrefixes.some((p) => c.number.startsWith(p))
            ? 'premium-rate'
            : 'far-international'
          : sipFraud.simultaneousCallsByTier[tier],
    })),
  );
}

function refusedTexts(world: Phase2World): SuspectText[] {
  const texts = (world.messaging.suspects ?? []).filter((s) => s.breaks !== null && s.channel !== 'campaign');
  if (texts.length === 0)
    throw new Error('No text of this scenario was refused on a channel: a When step must send one.');
  return texts;
}

/** Then the refusal is in {string}'s audit trail and the operator's, with the rule, the channel and the address it came from */
export async function expectSpamBlocksAudited(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const { own, operators } = await bothTrails(world, customerName, { action: 'spam.blocked' });
  expectOperatorSeesTheSame(own, operators, 'refused texts');
  for (const s of refusedTexts(world)) {
    const mine = own.filter((e) => e.detail.recipient === s.to && e.detail.rule === s.breaks);
    const what = `the ${s.breaks ?? ''} text to ${s.to} ${s.channel === 'api' ? 'through the API' : 'over SMPP'}`;
    expect(mine.length, `spam.blocked entries for ${what} in "${customerName}"'s trail (${LOOK})`).to.equal(
      1,
    );
    const [entry] = mine;
    const api = 'status' in s.answer ? s.answer : undefined;
    expect(
      {
        channel: entry.channel,
        actor: `${entry.actor.kind} ${entry.actor.id ?? ''}`,
        sourceAddress: entry.sourceAddress,
        requestId: entry.requestId,
        sender: entry.detail.sender,
      },
      `the spam.blocked entry for ${what}`,
    ).to.deep.equal({
      channel: s.channel,
      actor: `customer ${customer.id}`,
      sourceAddress: world.env.config.suiteHost,
      // Over SMPP there is no request id: the session's address says where it came from.
      requestId: api ? api.requestId : null,
      sender: s.from,
    });
    // The entry names the rejected message: the one the API shows with exactly that text.
    const message = await customer.api.getMessage(entry.target ?? '');
    expect(
      { text: message.text, status: message.status },
      `message ${entry.target ?? ''} the entry names`,
    ).to.deep.equal({ text: s.text, status: 'rejected' });
  }
}

/** Then each refusal is in {string}'s audit trail and the operator's, naming the campaign and the rule */
export async function expectCampaignSpamBlocksAudited(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const campaign = onlyCampaign(world).latest;
  const texts = (world.messaging.suspects ?? []).filter((s) => s.channel === 'campaign');
  if (texts.length === 0)
    throw new Error('No campaign text of this scenario was refused: a When step must run one.');
  const { own, operators } = await bothTrails(world, customerName, { action: 'spam.blocked' });
  expectOperatorSeesTheSame(own, operators, "the campaign's refused texts");
  for (const s of texts) {
    const mine = own.filter((e) => e.detail.recipient === s.to);
    expect(
      mine.map((e) => ({
        actor: `${e.actor.kind} ${e.actor.id ?? ''}`,
        rule: e.detail.rule,
        sender: e.detail.sender,
        campaignId: e.detail.campaignId,
      })),
      `spam.blocked entries for the campaign's text to ${s.to} in "${customerName}"'s trail (${LOOK})`,
    ).to.deep.equal([
      { actor: `customer ${customer.id}`, rule: s.breaks, sender: s.from, campaignId: campaign.id },
    ]);
    const message = await customer.api.getMessage(mine[0].target ?? '');
    expect(
      { text: message.text, status: message.status },
      `message ${mine[0].target ?? ''} the entry names`,
    ).to.deep.equal({ text: s.text, status: 'rejected' });
  }
}
