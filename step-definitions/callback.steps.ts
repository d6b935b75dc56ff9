import { Given, Then, When } from '@cucumber/cucumber';
import { expect } from 'chai';
import type { CustomerActor, Phase2World } from '../world/world';
import type { PstnCall, ReceivedInvite } from '../world/sip/pstn-double';
import type { PhoneCall } from '../world/sip/sip-phone';
import { localDid, shortCode } from '../world/factories';
import { EVIDENCE } from '../reporting/evidence';
import { audioSnapshot, expectHeardEachOther, talkForAMoment } from '../tasks/audio';

/**
 * Call-backs by SMS keyword: a handset texts CALL ME to a customer's short code or callback
 * number; the platform calls the handset back over the trunk and connects the customer's agent.
 */

type CallbackLine = 'short code' | 'callback number';

function callbackLine(customer: CustomerActor, line: CallbackLine): string {
  const kind = line === 'short code' ? 'short-code' : 'callback';
  const found = customer.numbers.find((n) => n.kind === kind);
  if (!found) throw new Error(`"${customer.name}" has no ${line} in this scenario.`);
  return found.number;
}

Given(
  "{person} takes the call-backs asked for on {string}'s short code and callback number",
  async function (this: Phase2World, agentName: string, customerName: string) {
    const customer = this.customer(customerName);
    const agent = this.person(agentName).sip?.username;
    if (!agent) throw new Error(`${agentName} has no SIP account.`);
    const lines: Array<{ number: string; kind: 'short-code' | 'local'; label: string }> = [
      { number: shortCode(), kind: 'short-code', label: 'short-code' },
      { number: localDid(), kind: 'local', label: 'callback' },
    ];
    for (const line of lines) {
      await customer.api.addNumber({ number: line.number, kind: line.kind });
      const updated = await customer.api.updateNumber(line.number, { voiceService: 'callback', agent });
      expect(updated, `${line.number} as a callback line`).to.deep.include({
        voiceService: 'callback',
        callbackAgent: agent,
      });
      customer.numbers.push({ number: line.number, kind: line.label });
    }
  },
);

Given('{person} has a mobile phone that answers calls', async function (this: Phase2World, name: string) {
  const number = this.newHandset();
  // The same phone takes calls: over the trunk, at the scenario's telephone network.
  (await this.telephoneNetwork()).behaviourFor(number, {
    answer: 'answer',
    media: 'tone',
    answerAfterMs: 200,
  });
  this.people.set(name, { name, number, kind: 'mobile' });
});

When(
  "{person} texts {string} to {string}'s {callbackLine}",
  async function (this: Phase2World, name: string, text: string, customerName: string, line: CallbackLine) {
    this.textedAt = Date.now();
    await this.env.carrier.injectMo({
      from: this.person(name).number,
      to: callbackLine(this.customer(customerName), line),
      text,
    });
    this.textedLine = { customer: customerName, line };
  },
);

Then(
  "{person}'s mobile rings with a call from {string}",
  async function (this: Phase2World, name: string, customerName: string) {
    const number = this.person(name).number;
    const since = this.textedAt ?? 0;
    const invite: ReceivedInvite = await (
      await this.telephoneNetwork()
    ).invites.waitFor((i) => i.number === number && i.at >= since, {
      awaited: `the call back to ${name}'s mobile ${number} over "${customerName}"'s trunk`,
      timeoutMs: this.env.config.waitMs,
      lookAt: `the "${EVIDENCE.SIP}" and "${EVIDENCE.SMPP}" attachments and ${this.env.platformLog}`,
    });
    const customer = this.customer(customerName);
    const own = customer.numbers.map((n) => n.number);
    expect(own, `the caller shown to ${name} must be one of "${customerName}"'s numbers`).to.include(
      invite.from,
    );
    expect(invite.pAssertedIdentity, 'P-Asserted-Identity of the call back').to.equal(invite.from);
    this.callback = { invite };
  },
);

Then(
  "{person}'s phone rings with {person}'s call back and {person} answers",
  async function (this: Phase2World, agentName: string, callerName: string, answerer: string) {
    expect(answerer, 'who answers').to.equal(agentName);
    const callback = this.currentCallback();
    const { waitMs } = this.env.config;
    const network = await this.telephoneNetwork();
    const handset: PstnCall = await network.calls.waitFor((c) => c.callId === callback.invite.callId, {
      awaited: `${callerName}'s mobile to answer the call back`,
      timeoutMs: waitMs,
      lookAt: `the "${EVIDENCE.SIP}" attachment`,
    });
    await handset.waitUntilConfirmed(waitMs);
    const phone = this.person(agentName).phone;
    if (!phone) throw new Error(`${agentName} has no phone.`);
    const ringing: PhoneCall = await phone.incomingCalls.waitFor((c) => c.invitedAt >= (this.textedAt ?? 0), {
      awaited: `the call back of ${callerName} to ring ${agentName}'s phone`,
      timeoutMs: waitMs,
      lookAt: `the "${EVIDENCE.SIP}" attachment and ${this.env.platformLog}`,
    });
    expect(ringing.remoteIdentity.user, `caller shown on ${agentName}'s phone`).to.equal(
      this.person(callerName).number,
    );
    await ringing.answer();
    await ringing.waitUntilAnswered(waitMs);
    callback.handset = handset;
    callback.agent = ringing;
  },
);

Then(
  '{person} and {person} hear each other',
  async function (this: Phase2World, aName: string, bName: string) {
    const callback = this.currentCallback();
    if (!callback.handset || !callback.agent) throw new Error('The call back was not answered at both ends.');
    const handset = { name: aName, rtp: callback.handset.rtp };
    const agent = { name: bName, rtp: callback.agent.rtp };
    const { waitMs } = this.env.config;
    // Counted from the first packet each way: before the agent answered there was nobody to hear.
    await Promise.all([handset.rtp.waitForPackets(1, waitMs), agent.rtp.waitForPackets(1, waitMs)]);
    const since = audioSnapshot(handset, agent);
    await talkForAMoment(this, handset, agent);
    expectHeardEachOther(this, handset, agent, since);
  },
);

Then(
  "{person}'s mobile receives a reply explaining to text CALL ME",
  async function (this: Phase2World, name: string) {
    const { customer, line } = this.textedLine ?? { customer: '', line: 'short code' };
    const sms = await this.env.carrier.handset(this.person(name).number).inbox.waitFor(() => true, {
      awaited: `the reply on ${name}'s mobile`,
      timeoutMs: this.env.config.waitMs,
      lookAt: `the "${EVIDENCE.SMPP}" attachment and ${this.env.platformLog}`,
    });
    expect(sms.from, `sender of the reply: the ${line} texted`).to.equal(
      callbackLine(this.customer(customer), line as CallbackLine),
    );
    expect(sms.text, 'the reply names the keyword').to.include('CALL ME');
  },
);

Then('nobody is called back', async function (this: Phase2World) {
  // The reply is only sent once the text is handled: a call back would have been placed by then.
  const since = this.textedAt ?? 0;
  const invites = (await this.telephoneNetwork()).invites.filter((i) => i.at >= since);
  expect(
    invites.map((i) => i.number),
    'calls placed by the platform after the text',
  ).to.deep.equal([]);
});
