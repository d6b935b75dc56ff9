import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import type { PlatformApi } from '../world/http/api-client';
import { EVIDENCE } from '../reporting/evidence';
import { bound } from './waiting';

/**
 * "Exactly these texts, and nothing else", proven by a later event rather than at one instant:
 * a marker text sent now from the same number to the same mobile goes through the platform's
 * submit queue behind anything the platform queued before it, so once the marker has arrived,
 * any duplicate or stray text queued earlier has arrived too. The inbox must then hold exactly
 * `expected` (in order) and the marker, after the `alreadySeen` texts earlier steps accounted for.
 */
export async function expectNothingElseArrived(
  world: Phase2World,
  sender: { api: PlatformApi; number: string },
  mobile: string,
  expected: readonly string[],
  what: string,
  /** Texts on the mobile that earlier steps already accounted for (they stay in the inbox). */
  alreadySeen = 0,
): Promise<void> {
  const marker = `Marker ${randomBytes(4).toString('hex')}`;
  await sender.api.sendMessage({ from: sender.number, to: mobile, text: marker });
  const inbox = world.mobileNetwork.handset(mobile).inbox;
  await inbox.waitFor(
    (sms) => sms.text === marker,
    bound(world, `the marker text from ${sender.number} on ${mobile}, sent after ${what}`, {
      lookAt: [EVIDENCE.SMPP],
    }),
  );
  expect(
    inbox
      .all()
      .slice(alreadySeen)
      .map((sms) => sms.text),
    `texts on ${mobile} once a marker sent after ${what} arrived: ${what}, then the marker, nothing else (see "${EVIDENCE.SMPP}")`,
  ).to.deep.equal([...expected, marker]);
}
