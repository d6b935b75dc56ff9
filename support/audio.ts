import { expect } from 'chai';
import type { RtpSession, RtpStats } from '../world/sip/rtp';
import type { Phase2World } from '../world/world';
import { EVIDENCE, attachJson } from './evidence';

/** One second of speech each way: enough packets that a 95 % threshold means something. */
export const TALK_PACKETS = 50;
/** Audio must arrive intact, not just as packets: the share of frames carrying the sender's tone. */
const INTACT_AUDIO_SHARE = 0.9;

/** A party to a call and the media session they speak and listen with. */
export interface Speaker {
  name: string;
  rtp: RtpSession;
}

/** Waits until each party has heard `packets` more packets than now: "they talk for a moment". */
export async function talkForAMoment(world: Phase2World, ...parties: Speaker[]): Promise<void> {
  await Promise.all(
    parties.map((p) => p.rtp.waitForPackets(p.rtp.stats().received + TALK_PACKETS, world.env.config.waitMs)),
  );
}

/**
 * Both parties heard each other through the platform: most of what one sent arrived at the
 * other, every packet came from the platform's relay (never straight from the speaker), and
 * the frames carried the speaker's tone. Attaches both sides' RTP statistics.
 */
export function expectHeardEachOther(world: Phase2World, a: Speaker, b: Speaker): void {
  const aStats = a.rtp.stats();
  const bStats = b.rtp.stats();
  attachJson(world, EVIDENCE.RTP, { [a.name]: aStats, [b.name]: bStats });
  const heard = (listener: string, theirs: RtpStats, speaker: string, speakers: RtpStats): void => {
    const see = `(see "${EVIDENCE.RTP}")`;
    expect(speakers.sent, `packets ${speaker} sent`).to.be.at.least(TALK_PACKETS);
    expect(
      theirs.received,
      `${listener} should receive at least 95 % of the ${speakers.sent} RTP packets ${speaker} sent ${see}`,
    ).to.be.at.least(Math.ceil(speakers.sent * 0.95));
    // Carried by the platform: every packet came from the relay, none straight from the speaker.
    expect(
      theirs.sources,
      `${listener}'s audio must come from the platform's relay, not straight from ${speaker}'s own address ${see}`,
    ).to.not.include(speakers.localAddress);
    expect(theirs.sources, `sources of ${listener}'s audio ${see}`).to.have.length(1);
    // Intact: the frames carry the speaker's tone, not silence or noise the relay made up.
    expect(
      theirs.toneFramesReceived,
      `${listener}'s audio frames that carried ${speaker}'s voice, of ${theirs.audioPacketsReceived} ${see}`,
    ).to.be.at.least(Math.floor(theirs.audioPacketsReceived * INTACT_AUDIO_SHARE));
  };
  heard(a.name, aStats, b.name, bStats);
  heard(b.name, bStats, a.name, aStats);
}
