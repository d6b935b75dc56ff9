import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VOICE_TONES_HZ, freeVoiceTone } from '../../world/factories';
import { describeHeard, estimateToneHz, pcmuToneFrame } from '../../world/sip/rtp';
import { framesNear } from '../../tasks/audio';

/** The reference platform's prompt pitches (platform/config.ts): voices must stay clear of them. */
const PROMPTS_HZ = [300, 450, 650, 1000, 1400];

test('every voice is told apart from every other voice and from every prompt by the pitch estimate', () => {
  const pitches = [...VOICE_TONES_HZ, ...PROMPTS_HZ];
  for (const voice of VOICE_TONES_HZ) {
    const heard = estimateToneHz(pcmuToneFrame(voice));
    assert.ok(heard !== null && Math.abs(heard - voice) <= 25, `${voice} Hz is heard as ${heard} Hz`);
    for (const other of pitches.filter((p) => p !== voice))
      assert.ok(Math.abs(other - voice) >= 150, `${voice} Hz is too close to ${other} Hz`);
  }
});

test('a new person gets the first voice nobody has; in a crowd, the least used one', () => {
  assert.equal(freeVoiceTone([]), VOICE_TONES_HZ[0]);
  assert.equal(freeVoiceTone([VOICE_TONES_HZ[0]]), VOICE_TONES_HZ[1]);
  assert.equal(freeVoiceTone([VOICE_TONES_HZ[1]]), VOICE_TONES_HZ[0]);
  assert.equal(freeVoiceTone([...VOICE_TONES_HZ, VOICE_TONES_HZ[0]]), VOICE_TONES_HZ[1]);
});

test('what was heard is named loudest first, by voice or prompt where known', () => {
  const nameOf = (hz: number): string | undefined =>
    ({ 1200: "Bob's voice", 300: 'the "refused" prompt' })[hz];
  assert.equal(
    describeHeard({ 300: 45, 800: 3, 1200: 0, 1250: 7 }, nameOf),
    'the "refused" prompt 45 frames, unknown 1250 Hz 7 frames, unknown 800 Hz 3 frames',
  );
  assert.equal(describeHeard({}), 'nothing audible');
  assert.equal(framesNear({ 1150: 2, 1200: 40, 1250: 3, 1300: 9 }, 1200), 45);
});
