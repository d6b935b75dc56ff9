import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import type { Voicemail } from '../world/http/api-client';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { readWav } from '../support/providers';
import { bound, eventually, PLATFORM_LOG, boundMs } from './waiting';
import { soundNames } from './audio';

/**
 * Voicemail: unanswered calls reach the subscriber's greeting, the caller's message is recorded,
 * transcribed by the speech-to-text provider and texted to the subscriber's mobile.
 */

const FRAMES_PER_SECOND = 50;
/** Recording starts as the greeting ends and stops at the hang-up: a frame or two either way. */
const MESSAGE_TOLERANCE_MS = { under: 100, over: 300 };

/** When {person} calls {person}'s number while she/he is away from her/his desk */
export async function callWhileAway(world: Phase2World, callerName: string, calleeName: string) {
  const callee = world.person(calleeName);
  const network = await world.telephoneNetwork();
  const caller = world.person(callerName);
  const placedAt = Date.now();
  const pstn = await network.call(caller.number, callee.number, world.env.endpoints.sip.udp);
  world.voice.inboundCall = { caller, callee, pstn, placedAt };
  if (!callee.phone) throw new Error(`${calleeName} has no phone.`);
  // Her phone rings and nobody picks it up.
  world.voice.inboundCall.ringing = await callee.phone.incomingCalls.waitFor(
    (c) => c.invitedAt >= placedAt,
    bound(world, `the call to ring ${calleeName}'s phone`, { lookAt: [EVIDENCE.SIP, PLATFORM_LOG] }),
  );
}

/** Then {person} hears {person}'s voicemail greeting */
export async function expectVoicemailGreeting(world: Phase2World, callerName: string, calleeName: string) {
  const inbound = world.currentInboundCall();
  expect([inbound.caller.name, inbound.callee.name], 'who called whom').to.deep.equal([
    callerName,
    calleeName,
  ]);
  const { sip, voice } = await world.platformSettings();
  const waitMs = boundMs(world);
  // Answered by the platform: after the phone rang for the no-answer time, or at once when it is off.
  await inbound.pstn.waitUntilAnswered(boundMs(world, sip.noAnswerTimeoutMs));
  if (inbound.ringing) {
    expect(
      (inbound.pstn.answeredAt ?? 0) - inbound.placedAt,
      `ms the phone rang before voicemail answered (no-answer time ${sip.noAnswerTimeoutMs} ms)`,
    ).to.be.at.least(sip.noAnswerTimeoutMs);
    await inbound.ringing.waitUntilEnded(waitMs); // the desk phone stops ringing
  }
  const frames = Math.round(voice.voicemailGreetingMs / 20);
  await inbound.pstn.rtp.waitForTone(
    voice.promptHz.greeting,
    frames,
    boundMs(world, voice.voicemailGreetingMs),
    'the voicemail greeting',
    await soundNames(world),
  );
}

/** When {person} leaves a message of {int} second(s) and hangs up */
export async function leaveAMessage(world: Phase2World, callerName: string, seconds: number) {
  const inbound = world.currentInboundCall();
  expect(inbound.caller.name, 'who leaves the message').to.equal(callerName);
  const rtp = inbound.pstn.rtp;
  // Speaking is measured by what the caller sent, not by the clock.
  await rtp.waitForSent(rtp.stats().sent + seconds * FRAMES_PER_SECOND, boundMs(world, seconds * 1000));
  inbound.messageSeconds = seconds;
  await inbound.pstn.hangup();
  await inbound.pstn.waitUntilEnded(boundMs(world));
}

export function messageSeconds(world: Phase2World): number {
  const left = world.currentInboundCall().messageSeconds;
  if (left === undefined) throw new Error('No message has been left in this scenario.');
  return left;
}

/** The voicemail as the API lists it for the called number, once its transcription is over. */
async function theVoicemail(world: Phase2World): Promise<Voicemail> {
  const { callee } = world.currentInboundCall();
  const api = world.customer(world.subscriber(callee.name).customer).api;
  const list = await eventually(
    world,
    `a transcribed voicemail for ${callee.number}`,
    () => api.listVoicemails(callee.number),
    (result) => result.items.length > 0 && result.items[0]?.transcriptionStatus !== 'pending',
    { lookAt: [EVIDENCE.HTTP, PLATFORM_LOG] },
  );
  expect(list.items, `voicemails for ${callee.number}`).to.have.length(1);
  attachJson(world, 'Voicemail', list.items[0]);
  return list.items[0];
}

/** Then the speech-to-text provider received {person}'s message as telephone audio of about {int} second(s) */
export async function expectProviderReceivedTheRecording(
  world: Phase2World,
  callerName: string,
  seconds: number,
) {
  expect(seconds, 'the length the message was left with').to.equal(messageSeconds(world));
  const expectedMs = seconds * 1000;
  const voicemail = await theVoicemail(world);
  expect(
    voicemail.durationMs,
    `length of ${callerName}'s recorded message, as the API reports it`,
  ).to.be.within(expectedMs - MESSAGE_TOLERANCE_MS.under, expectedMs + MESSAGE_TOLERANCE_MS.over);
  // Against a stub, the provider's side is visible too: one request, a WAV of that length.
  for (const request of world.voice.speechToText?.requests ?? []) {
    const wav = readWav(request.body);
    attachJson(world, 'Speech-to-text request', { contentType: request.contentType, wav });
    expect(request.contentType, 'content type sent to the speech-to-text provider').to.equal('audio/wav');
    expect(wav, 'audio format sent to the provider: G.711 mu-law, 8 kHz, mono').to.deep.include({
      riff: true,
      format: 7,
      channels: 1,
      sampleRate: 8000,
      bitsPerSample: 8,
    });
    expect(wav.dataBytes / 8, 'ms of audio sent to the provider').to.be.within(
      expectedMs - MESSAGE_TOLERANCE_MS.under,
      expectedMs + MESSAGE_TOLERANCE_MS.over,
    );
  }
  if (world.env.endpoints.stubbedProviders)
    expect(world.voice.speechToText?.requests, 'requests the speech-to-text stub received').to.have.length(1);
}

/**
 * The one text about the voicemail on the subscriber's mobile: from their business number,
 * naming the caller.
 */
async function voicemailText(world: Phase2World, name: string, callerName: string): Promise<string> {
  const person = world.subscriber(name);
  const inbox = world.mobileNetwork.handset(person.mobile ?? '').inbox;
  const sms = await inbox.waitFor(
    () => true,
    bound(world, `the voicemail text on ${name}'s mobile`, { lookAt: [EVIDENCE.SMPP, PLATFORM_LOG] }),
  );
  expect(sms.from, `sender of the voicemail text: ${name}'s business number`).to.equal(person.number);
  expect(sms.text, `the voicemail text names ${callerName}`).to.include(world.person(callerName).number);
  expect(inbox.all(), `texts on ${name}'s mobile`).to.have.length(1);
  return sms.text;
}

/** Then {person}'s mobile receives the transcript of {person}'s message */
export async function expectTranscriptOnMobile(world: Phase2World, name: string, callerName: string) {
  const text = await voicemailText(world, name, callerName);
  const transcript = world.voice.speechToText?.transcript;
  if (transcript) expect(text, 'the voicemail text carries the transcript').to.include(transcript);
  else expect(text, 'the voicemail text carries a transcript').to.match(/: \S/);
}

/** Then {person}'s mobile is told of the voicemail from {person}, without a transcript */
export async function expectVoicemailNoticeWithoutTranscript(
  world: Phase2World,
  name: string,
  callerName: string,
) {
  const text = await voicemailText(world, name, callerName);
  expect(text, 'the voicemail text says there is no transcript').to.match(/no transcript/i);
  const voicemail = await theVoicemail(world);
  expect(voicemail, 'the voicemail as the API shows it').to.deep.include({
    transcript: null,
    transcriptionStatus: 'failed',
  });
}

/** Then the voicemail and its transcript can be fetched through the API */
export async function expectVoicemailAndTranscriptFetchable(world: Phase2World) {
  const { caller, callee } = world.currentInboundCall();
  const voicemail = await theVoicemail(world);
  expect(voicemail, 'the voicemail in the list').to.deep.include({
    mailbox: callee.number,
    caller: caller.number,
    transcriptionStatus: 'done',
  });
  const transcript = world.voice.speechToText?.transcript;
  if (transcript) expect(voicemail.transcript, 'transcript').to.equal(transcript);
  else expect(voicemail.transcript, 'transcript').to.be.a('string').and.have.length.above(0);
  const api = world.customer(world.subscriber(callee.name).customer).api;
  expect(await api.getVoicemail(voicemail.id), 'the same voicemail read on its own').to.deep.equal(voicemail);
}
