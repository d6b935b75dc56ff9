import type { CarrierSmscDouble, Handset, HandsetBehaviour, HandsetTiming } from './smpp/carrier-smsc';
import { mobileNumber } from './factories';

/**
 * The mobile network as an actor of the scenario: the one way the suite reaches the carrier
 * SMSC double. It hands out handsets in the worker's own number range (forgotten when the
 * scenario ends), texts from them, and shows what reached them and what the platform submitted.
 */
export class MobileNetwork {
  constructor(
    private readonly double: CarrierSmscDouble,
    private readonly prefix: string,
    private readonly onCleanup: (fn: () => Promise<void>) => void,
  ) {}

  /** A new handset behaving as asked; the double forgets it when the scenario ends. */
  newHandset(behaviour: HandsetBehaviour = 'deliver', timing: HandsetTiming = {}): string {
    const number = mobileNumber(this.prefix);
    this.double.behaviourFor(number, behaviour, timing);
    this.onCleanup(async () => this.double.forget(number));
    return number;
  }

  /** The handset with this number: its inbox is what its owner reads. */
  handset(number: string): Handset {
    return this.double.handset(number);
  }

  /** What the network does with texts to this number (delivers, loses, refuses, …). */
  behaviourOf(number: string): HandsetBehaviour {
    return this.double.behaviourOf(number);
  }

  /** How late the network answers the platform and reaches the handset, for this number. */
  timingOf(number: string): HandsetTiming {
    return this.double.timingOf(number);
  }

  /** A handset texts a number of the platform's (a mobile-originated message). */
  async textFrom(handset: string, to: string, text: string): Promise<void> {
    await this.double.injectMo({ from: handset, to, text });
  }

  /** Every text the platform submitted to the network, with where it went. */
  get submits(): CarrierSmscDouble['submits'] {
    return this.double.submits;
  }

  /** Every delivery receipt the network sent the platform: what a report must be faithful to. */
  get receipts(): CarrierSmscDouble['receipts'] {
    return this.double.receipts;
  }

  /** Protocol faults the network noticed in the platform's traffic. */
  get violations(): CarrierSmscDouble['violations'] {
    return this.double.violations;
  }
}
