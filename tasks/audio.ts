import { expect } from 'chai';
import { describeHeard, type RtpSession, type RtpStats } from '../world/sip/rtp';
import type { AudioSnapshot, Phase2World } from '../world/world';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { boundMs } from './waiting';

/** One second of speech each way: enough packets that a 95 % threshold means something. */
export const TALK_PACKETS = 50;
/** Audio must arrive intact, not just as packets: the share of frames carrying the sender's tone. */
const INTACT_AUDIO_SHARE = 0.9;

/** A party to a call and the media session they speak and listen with. */
export interface Speaker {
  name: string;
  rtp: RtpSession;
}

/** Waits until each party has spoken and heard `TALK_PACKETS` more packets than now: "they talk for a moment". */
export async function talkForAMoment(world: Phase2World, ...parties: Speaker[]): Promise<void> {
  const waitMs = boundMs(world);
  await Promise.all(
    parties.flatMap((p) => {
      const now = p.rtp.stats();
      return [
        p.rtp.waitForPackets(now.received + TALK_PACKETS, waitMs),
        p.rtp.waitForSent(now.sent + TALK_PACKETS, waitMs),
      ];
    }),
  );
}

export type { AudioSnapshot };

export function audioSnapshot(...parties: Speaker[]): AudioSnapshot {
  return Object.fromEntries(
    parties.map((p) => {
      const stats = p.rtp.stats();
      return [
        p.name,
        {
          sent: stats.sent,
          received: stats.received,
          audio: stats.audioPacketsReceived,
          tones: stats.tonesHeardHz,
        },
      ];
    }),
  );
}

/** A pitch is recognised within this many Hz (the estimate is ±25 Hz; voices are 250 Hz apart). */
const PITCH_TOLERANCE_HZ = 60;

/** Frames heard at about `hz` in a per-pitch count. */
export function framesNear(tones: Record<string, number>, hz: number): number {
  let frames = 0;
  for (const [bucket, count] of Object.entries(tones))
    if (Math.abs(Number(bucket) - hz) <= PITCH_TOLERANCE_HZ) frames += count;
  return frames;
}

/** What was heard after a snapshot: the per-pitch counts minus those before it. */
function heardSince(
  now: Record<string, number>,
  before: Record<string, number> = {},
): Record<string, number> {
  return Object.fromEntries(Object.entries(now).map(([hz, count]) => [hz, count - (before[hz] ?? 0)]));
}

/** Names a pitch by whose voice it is ("Bob's voice (1200 Hz)"), for failure messages. */
export function voiceNames(world: Phase2World): (hz: number) => string | undefined {
  return (hz) => {
    const who = [...world.people.values()].find(
      (p) => p.toneHz !== undefined && Math.abs(p.toneHz - hz) <= PITCH_TOLERANCE_HZ,
    );
    return who ? `${who.name}'s voice (${who.toneHz} Hz)` : undefined;
  };
}

/**
 * Both parties heard each other through the platform: most of what one sent (since `since`, or
 * ever, until `until` or now) arrived at the other, every packet came from the platform's relay
 * (never straight from the speaker), and what each heard was the other's own voice — not their
 * own coming back, not a third party's, not silence. Attaches both sides' RTP statistics.
 */
export function expectHeardEachOther(
  world: Phase2World,
  a: Speaker,
  b: Speaker,
  since?: AudioSnapshot,
  until?: AudioSnapshot,
): void {
  const aStats = a.rtp.stats();
  const bStats = b.rtp.stats();
  attachJson(world, EVIDENCE.RTP, { [a.name]: aStats, [b.name]: bStats, countedFrom: since ?? 'the start' });
  if (a.rtp.toneHz !== null && a.rtp.toneHz === b.rtp.toneHz)
    throw new Error(
      `${a.name} and ${b.name} speak with the same pitch (${a.rtp.toneHz} Hz): nobody could tell whom they heard. Give each person a voice of their own (world.voiceOf).`,
    );
  const nameOf = voiceNames(world);
  const heard = (listener: Speaker, theirs: RtpStats, speaker: Speaker, speakers: RtpStats): void => {
    const see = `(see "${EVIDENCE.RTP}")`;
    // Up to the hang-up when known: what a speaker sends while the call is being torn down is lost by design.
    const sent = (until?.[speaker.name]?.sent ?? speakers.sent) - (since?.[speaker.name]?.sent ?? 0);
    const received = theirs.received - (since?.[listener.name]?.received ?? 0);
    expect(sent, `packets ${speaker.name} sent`).to.be.at.least(TALK_PACKETS);
    expect(
      received,
      `${listener.name} should receive at least 95 % of the ${sent} RTP packets ${speaker.name} sent ${see}`,
    ).to.be.at.least(Math.ceil(sent * 0.95));
    // Carried by the platform: every packet came from the relay, none straight from the speaker.
    expect(
      theirs.sources,
      `${listener.name}'s audio must come from the platform's relay, not straight from ${speaker.name}'s own address ${see}`,
    ).to.not.include(speakers.localAddress);
    expect(theirs.sources, `sources of ${listener.name}'s audio ${see}`).to.have.length(1);
    // Intact: the frames carry the speaker's tone, not silence or noise the relay made up.
    expect(
      theirs.toneFramesReceived,
      `${listener.name}'s audio frames that carried ${speaker.name}'s voice, of ${theirs.audioPacketsReceived} ${see}`,
    ).to.be.at.least(Math.floor(theirs.audioPacketsReceived * INTACT_AUDIO_SHARE));
    // Whose voice: the speaker's own pitch, and never the listener's own (looped back) or a third party's.
    const audio = theirs.audioPacketsReceived - (since?.[listener.name]?.audio ?? 0);
    const tones = heardSince(theirs.tonesHeardHz, since?.[listener.name]?.tones);
    const speakerHz = speaker.rtp.toneHz;
    const ownHz = listener.rtp.toneHz;
    if (ownHz !== null)
      expect(
        framesNear(tones, ownHz),
        `frames of ${listener.name}'s own voice (${ownHz} Hz) that came back to ${listener.name}: the call looped their audio back; heard ${describeHeard(tones, nameOf)} ${see}`,
      ).to.equal(0);
    if (speakerHz !== null)
      expect(
        framesNear(tones, speakerHz),
        `frames of ${speaker.name}'s voice (${speakerHz} Hz) ${listener.name} heard, of ${audio} audio frames; heard ${describeHeard(tones, nameOf)} ${see}`,
      ).to.be.at.least(Math.floor(audio * INTACT_AUDIO_SHARE));
  };
  heard(a, aStats, b, bStats);
  heard(b, bStats, a, aStats);
}

/** Packets that may already be in flight when the relay stops forwarding (loopback: a frame or two). */
const IN_FLIGHT_PACKETS = 3;
/** Half a second of speech: long enough that a relay still forwarding would show it. */
const SILENCE_PACKETS = 25;

/**
 * Neither party hears the other: while each speaks another half second, at most the packets
 * already in flight arrive at the other side.
 */
export async function expectSilenceBothWays(world: Phase2World, a: Speaker, b: Speaker): Promise<void> {
  const before = audioSnapshot(a, b);
  const waitMs = boundMs(world);
  await Promise.all([a, b].map((p) => p.rtp.waitForSent(before[p.name].sent + SILENCE_PACKETS, waitMs)));
  const after = audioSnapshot(a, b);
  attachJson(world, 'RTP while held', { before, after });
  for (const [listener, speaker] of [
    [a.name, b.name],
    [b.name, a.name],
  ]) {
    expect(
      after[listener].received - before[listener].received,
      `packets ${listener} received while ${speaker} sent ${after[speaker].sent - before[speaker].sent} (see "RTP while held")`,
    ).to.be.at.most(IN_FLIGHT_PACKETS);
  }
}

/**
 * Names every pitch a caller may hear: the platform's prompts by name ('"confirmed"', from its
 * settings) and the people's voices, so a failure says heard "refused", not heard 300 Hz.
 */
export async function soundNames(world: Phase2World): Promise<(hz: number) => string | undefined> {
  const { promptHz } = (await world.platformSettings()).voice;
  const voices = voiceNames(world);
  return (hz) => {
    const prompt = Object.entries(promptHz).find(([, at]) => Math.abs(at - hz) <= PITCH_TOLERANCE_HZ);
    return prompt ? `the "${prompt[0]}" prompt` : voices(hz);
  };
}
