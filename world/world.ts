import { World, setWorldConstructor, type IWorldOptions } from '@cucumber/cucumber';
import type { SuiteEnvironment } from '../support/environment';
import type { PlatformApi } from './http/api-client';
import type { SipPhone, PhoneCall } from './sip/sip-phone';
import { PstnDouble, type PstnCall, type ReceivedInvite } from './sip/pstn-double';
import type { SipDatagramProbe } from './probes/sip-datagram-probe';
import type { SmppCustomerSession } from './smpp/smpp-session';
import { traffic } from './traffic-log';

/** A business customer of the platform, as this scenario provisioned it. */
export interface CustomerActor {
  name: string;
  id: string;
  tier: string;
  api: PlatformApi;
  smpp: { systemId: string; password: string };
  numbers: Array<{ number: string; kind: string }>;
  trunkId?: string;
  webhook?: { id: string; url: string; path: string };
}

/** A person in the scenario (Alice, Bob, …) and how they are reached. */
export interface Person {
  name: string;
  number: string;
  /** How the platform reaches them: a SIP phone of a customer's, an outside (PSTN) line, a mobile. */
  kind: 'sip phone' | 'outside line' | 'mobile';
  customer?: string;
  phone?: SipPhone;
  sip?: { username: string; password: string };
}

/** The call the scenario is talking about, from both ends. */
export interface CallUnderTest {
  caller: Person;
  callee: Person;
  call: PhoneCall;
  invite?: ReceivedInvite;
  farEnd?: PstnCall;
}

/** The message the scenario is talking about. */
export interface MessageUnderTest {
  id: string;
  customer: string;
  from: string;
  to: string;
  text: string;
  /** When the API answered 202 (suite clock, ms). */
  acceptedAt: number;
}

/**
 * One World per scenario (Cucumber's rule). It holds the scenario's actors and what they did;
 * the long-lived servers live in the per-worker SuiteEnvironment it points to.
 */
export class Phase2World extends World {
  env!: SuiteEnvironment;
  readonly customers = new Map<string, CustomerActor>();
  readonly people = new Map<string, Person>();
  call?: CallUnderTest;
  message?: MessageUnderTest;
  /** Outcome of the last attempt that was expected to be refused. */
  registrationError?: Error;
  probe?: SipDatagramProbe;
  smpp?: SmppCustomerSession;
  /** The last raw HTTP answer a negative step received. */
  lastResponse?: { status: number; headers: Record<string, string | string[] | undefined>; body: unknown };
  bindError?: Error & { statusName?: string };
  /** Traffic position at scenario start: evidence is what came after it. */
  readonly trafficMark = traffic.mark();
  private readonly cleanups: Array<() => Promise<void>> = [];
  private network?: PstnDouble;

  constructor(options: IWorldOptions) {
    super(options);
  }

  customer(name: string): CustomerActor {
    const found = this.customers.get(name);
    if (!found) {
      throw new Error(
        `No customer called "${name}" in this scenario yet: a Given step must create it first.`,
      );
    }
    return found;
  }

  person(name: string): Person {
    const found = this.people.get(name);
    if (!found)
      throw new Error(`Nobody called ${name} in this scenario yet: a Given step must introduce them.`);
    return found;
  }

  currentCall(): CallUnderTest {
    if (!this.call) throw new Error('No call has been made in this scenario yet.');
    return this.call;
  }

  currentMessage(): MessageUnderTest {
    if (!this.message) throw new Error('No message has been sent in this scenario yet.');
    return this.message;
  }

  /**
   * The public telephone network behind this scenario's trunks: a PSTN double of its own, so a
   * call arriving there can only have come over this scenario's trunk. Started on first use;
   * at the end, anything it saw go wrong (a missing ACK, a malformed message) fails the scenario.
   */
  async telephoneNetwork(): Promise<PstnDouble> {
    if (!this.network) {
      const network = new PstnDouble({ actor: 'PSTN' });
      await network.start();
      this.network = network;
      this.onCleanup(async () => {
        await network.stop();
        const problems = network.problems.all();
        if (problems.length > 0) {
          throw new Error(
            `The telephone network saw ${problems.length} protocol problem(s) from the platform (see "SIP messages"):\n` +
              problems.map((p) => `  - ${p}`).join('\n'),
          );
        }
      });
    }
    return this.network;
  }

  /** Registers teardown work (phones to unregister, sessions to close); run in reverse order. */
  onCleanup(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    const failures: unknown[] = [];
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        failures.push(error);
      }
    }
    this.cleanups.length = 0;
    if (failures.length > 0) throw new AggregateError(failures, 'scenario cleanup failed');
  }
}

setWorldConstructor(Phase2World);
