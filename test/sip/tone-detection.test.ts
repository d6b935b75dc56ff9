import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PCMU_SILENCE_FRAME,
  estimateToneHz,
  linearToMulaw,
  mulawToLinear,
  pcmuToneFrame,
} from '../../world/sip/rtp';

test('mu-law decoding inverts encoding to within the quantisation step', () => {
  for (const sample of [0, 1, -1, 100, -100, 1000, -1000, 8000, -8000, 30000, -30000]) {
    const decoded = mulawToLinear(linearToMulaw(sample));
    // G.711 steps grow with the magnitude: 1/16 of it is a safe bound (plus the bias near zero).
    assert.ok(Math.abs(decoded - sample) <= Math.abs(sample) / 16 + 8, `${sample} → ${decoded}`);
    assert.equal(Math.sign(decoded) === Math.sign(sample) || decoded === 0 || sample === 0, true);
  }
});

test('the pitch of a tone frame is found from its zero crossings, to within 30 Hz', () => {
  for (const hz of [300, 450, 650, 1000, 1400]) {
    const estimate = estimateToneHz(pcmuToneFrame(hz));
    assert.ok(estimate !== null && Math.abs(estimate - hz) <= 30, `${hz} Hz estimated as ${estimate}`);
  }
});

test('silence has no pitch', () => {
  assert.equal(estimateToneHz(PCMU_SILENCE_FRAME), null);
  assert.equal(estimateToneHz(Buffer.alloc(0)), null);
});
