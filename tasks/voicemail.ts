import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import type { Voicemail } from '../world/http/api-client';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { readWav, wavData } from '../support/providers';
import { describeHeard, estimateToneHz, SAMPLES_PER_FRAME } from '../world/sip/rtp';
import { bound, eventually, PLATFORM_LOG, boundMs } from './waiting';
import { framesNear, soundNames } from './audio';
import { expectNothingElseArrived } from './texts';

/**
 * Voicemail: unanswered calls reach the subscriber's greeting, the caller's message is recorded,
 * transcribed by the speech-to-text provider and texted to the subscriber's mobile.
 */

const FRAMES_PER_SECOND = 50;
/** "At once" on loopback, on a busy machine: a round trip, never a ring. */
const AT_ONCE_MS = 750;
/** Recording starts as the greeting ends and stops at the hang-up: a frame or two either way. */
const MESSAGE_TOLERANCE_MS = { under: 100, over: 300 };
/** The share of the recording that must be the caller's voice: the frames at either end may be cut. */
const RECORDING_VOICE_SHARE = 0.9;

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
  } else {
    // A phone that is switched off cannot ring: voicemail answers at once, not after the no-answer time.
    expect(
      (inbound.pstn.answeredAt ?? 0) - inbound.placedAt,
      `ms before voicemail answered a call to a phone that is off (no-answer time ${sip.noAnswerTimeoutMs} ms)`,
    ).to.be.below(Math.min(AT_ONCE_MS, sip.noAnswerTimeoutMs));
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
  // The provider's side, as the test provider saw it: one request, a WAV of that length, and
  // what is in it is the caller's voice — not the greeting, not silence, not the platform's side.
  const requests = theProviderRequests(world);
  expect(requests.length, 'requests the speech-to-text provider received for one message').to.equal(1);
  const [request] = requests;
  const wav = readWav(request.body);
  const content = recordingContent(request.body);
  attachJson(world, 'Speech-to-text request', { contentType: request.contentType, wav, content });
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
  const { caller } = world.currentInboundCall();
  const voice = world.voiceOf(caller);
  const { promptHz } = (await world.platformSettings()).voice;
  const names = await soundNames(world);
  const heard = `the recording holds ${describeHeard(content, names)} (see "Speech-to-text request")`;
  expect(
    framesNear(content, voice),
    `frames of ${callerName}'s voice (${voice} Hz) in the recording, of ${wav.dataBytes / 160}: ${heard}`,
  ).to.be.at.least(Math.floor((wav.dataBytes / 160) * RECORDING_VOICE_SHARE));
  expect(
    framesNear(content, promptHz.greeting),
    `frames of the greeting in the recording: ${heard}`,
  ).to.equal(0);
}

/** What the test provider received; fails when the scenario arranged none. */
function theProviderRequests(world: Phase2World): Array<{ contentType: string; body: Buffer }> {
  const arranged = world.voice.speechToText;
  if (!arranged) throw new Error('No speech-to-text provider was arranged in this scenario (a Given step).');
  return arranged.requests;
}

/** The recording's 20 ms frames per pitch (50 Hz buckets), as a listener would hear them. */
function recordingContent(file: Buffer): Record<string, number> {
  const data = wavData(file);
  const perPitch: Record<string, number> = {};
  for (let at = 0; at + SAMPLES_PER_FRAME <= data.length; at += SAMPLES_PER_FRAME) {
    const hz = estimateToneHz(data.subarray(at, at + SAMPLES_PER_FRAME));
    const bucket = hz === null ? 'silence' : String(Math.round(hz / 50) * 50);
    perPitch[bucket] = (perPitch[bucket] ?? 0) + 1;
  }
  return perPitch;
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
  await expectNothingElseArrived(
    world,
    { api: world.customer(person.customer).api, number: person.number },
    person.mobile ?? '',
    [sms.text],
    `the voicemail text from ${callerName}`,
  );
  return sms.text;
}

/** Then {person}'s mobile receives the transcript of {person}'s message */
export async function expectTranscriptOnMobile(world: Phase2World, name: string, callerName: string) {
  const text = await voicemailText(world, name, callerName);
  const transcript = world.voice.speechToText?.transcript;
  if (!transcript) throw new Error('The speech-to-text provider was not told what to hear in this scenario.');
  expect(text, 'the voicemail text carries the transcript').to.include(transcript);
}

/** Then {person}'s mobile is told of the voicemail from {person}, without a transcript */
export async function expectVoicemailNoticeWithoutTranscript(
  world: Phase2World,
  name: string,
  callerName: string,
) {
  const text = await voicemailText(world, name, callerName);
  expect(text, 'the voicemail text says there is no transcript').to.match(/no transcript/i);
  // The provider was asked (once) and failed: a platform that never asks would also say "no transcript".
  expect(theProviderRequests(world).length, 'requests the out-of-service provider received').to.equal(1);
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
  if (!transcript) throw new Error('The speech-to-text provider was not told what to hear in this scenario.');
  expect(voicemail.transcript, 'transcript').to.equal(transcript);
  const api = world.customer(world.subscriber(callee.name).customer).api;
  expect(await api.getVoicemail(voicemail.id), 'the same voicemail read on its own').to.deep.equal(voicemail);
}
