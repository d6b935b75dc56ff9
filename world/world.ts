import { World, type IWorldOptions } from '@cucumber/cucumber';
import { Cleanups } from './cleanups';
import type { SuiteEnvironment } from '../support/environment';
import type {
  Campaign,
  ContactList,
  PlatformApi,
  PlatformSettings,
  RawResponse,
  TamperedAuditEntry,
  Template,
} from './http/api-client';
import type { SipPhone, PhoneCall } from './sip/sip-phone';
import { PstnDouble, type PstnCall, type ReceivedInvite } from './sip/pstn-double';
import type { SipDatagramProbe } from './probes/sip-datagram-probe';
import type { SmppCustomerSession } from './smpp/smpp-session';
import type { Answer, DictionaryAttack, SipAttacker } from './attack/sip-attacker';
import { traffic } from './traffic-log';
import { freeVoiceTone } from './factories';
import type { Observed } from './observed';
import type { CarrierSmscDouble, HandsetBehaviour, HandsetTiming } from './smpp/carrier-smsc';
import type { MobileNetwork } from './mobile-network';
import type { WebhookFailure } from './http/webhook-receiver';
import type { InjectedFault, NodeStatus } from './faults/fault-injector';

/** A business customer of the platform, as this scenario provisioned it. */
export interface CustomerActor {
  name: string;
  id: string;
  tier: string;
  api: PlatformApi;
  smpp: { systemId: string; password: string };
  numbers: Array<{ number: string; kind: string }>;
  trunkId?: string;
  /** Trunks to named carriers ("Carrier A" → trunk id), when the customer has several. */
  carrierTrunks?: Map<string, string>;
  /** The number of the customer's verification line, once it runs one. */
  verificationLine?: string;
  /** Routing rules by prefix ("+44" → rule id). */
  routingRules?: Map<string, string>;
  webhook?: { id: string; url: string; path: string; setSecret(secret: string): void };
  /** Keys, secrets and channel answers of the identity scenarios (TEST-INT-050). */
  identity?: IdentityNotes;
  /** The customer's requests sent at once (TEST-INT-053), as the gateway answered them, and how many its limit had left. */
  burst?: { left?: number; answers: BurstAnswer[] };
  /** Texts sent alternately over the API and SMPP against one quota (TEST-INT-053), each with its answer. */
  quotaRun?: Array<{ channel: 'API' | 'SMPP'; text: string; answer: string; retryAfter?: string }>;
  /** The customer's message templates, by name. */
  templates: Map<string, Template>;
  /** Contact lists the customer uploaded, by name, with the contacts the suite expects on them. */
  contactLists: Map<string, UploadedContactList>;
  /** The campaigns the customer runs, by name. */
  campaigns: Map<string, CampaignRun>;
  /** What the customer changed for its audit trail to show, and a DBA's edit of it (TEST-INT-054). */
  audit?: AuditNotes;
  /** The last request the customer sent under a reference (request id) of its own, and how long it took. */
  tracedRequest?: { reference: string; response: RawResponse; roundTripMs: number };
}

/** A change a customer made through the API, as its audit entry must show it. */
export interface AuditedChangeMade {
  /** For people: "provisions the trunk". */
  what: string;
  requestId: string;
  action: string;
  /** The path the entry's target names. */
  target: string;
}

export interface AuditNotes {
  changes: AuditedChangeMade[];
  /** The entry a DBA edited behind the platform's back (undone at scenario end). */
  tampered?: TamperedAuditEntry;
}

/** What an identity scenario changed about a customer, and what each channel answered. */
export interface IdentityNotes {
  /** API keys by holder: "old" (rotated out), "new", "reporting tool" (read-only). */
  keys: Map<string, string>;
  /** A rotated webhook signing secret, and until when the old one still signs. */
  rotatedSecret?: { secret: string; previousSecretValidUntil: string };
}

/** One request of a burst: what it asked, how the gateway answered, how long it took. */
export interface BurstAnswer {
  /** The text it asked to send, when it was one. */
  text?: string;
  /** The gateway node it was sent to, when the scenario addressed nodes one by one. */
  node?: string;
  status: number;
  ms: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** A row of a contact list as the suite uploaded it: who it is (when a person of the scenario) and its values. */
export interface ListedContact {
  person?: string;
  /** The number as uploaded (possibly malformed on purpose). */
  number: string;
  values: Record<string, string>;
  /** The line of the CSV file. */
  line: number;
}

export interface UploadedContactList {
  list: ContactList;
  /** Every row uploaded, in order; the accepted ones are those not in `list.rejectedRows`. */
  rows: ListedContact[];
}

/** A campaign of this scenario and what the suite did to it, with when. */
export interface CampaignRun {
  name: string;
  customer: string;
  templateName: string;
  listName: string;
  /** The campaign as the API last returned it. */
  latest: Campaign;
  /** Date.now() before asking to start (or the scheduled start). */
  startRequestedAt?: number;
  startAt?: number;
  /** Contacts still to be texted when it was paused or cancelled, in list order. */
  notYetTexted?: ListedContact[];
  resumeRequestedAt?: number;
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
  /** A subscriber's own mobile number (on the mobile network double), besides their desk phone. */
  mobile?: string;
  /** An outside caller who withholds their number (calls arrive from "anonymous"). */
  withheld?: boolean;
  /** The one-time code a verification line texted them, as their mobile showed it. */
  textedCode?: string;
  /** When that code reached their mobile (suite clock): its lifetime is counted from here. */
  textedCodeAt?: number;
  /**
   * How many texts on the person's mobile earlier steps already accounted for: later checks of
   * "the only text" look past them (the texts stay: the run's traffic metric judges them too).
   */
  mobileTextsSeen?: number;
  /** The pitch they speak with on a call, distinct within the scenario (see `Phase2World.voiceOf`). */
  toneHz?: number;
}

/** Packet counters of the parties at a moment, so a check can look only at what came after it. */
export type AudioSnapshot = Record<
  string,
  {
    sent: number;
    received: number;
    /** Audio packets received and, per pitch, the audible ones: whose voice came after the snapshot. */
    audio?: number;
    tones?: Record<string, number>;
  }
>;

/** The call the scenario is talking about, from both ends. */
export interface CallUnderTest {
  caller: Person;
  callee: Person;
  call: PhoneCall;
  invite?: ReceivedInvite;
  farEnd?: PstnCall;
  /** The call's id in the API's live call control, once looked up. */
  liveCallId?: string;
  /** Packet counters of both parties just before one hung up (see tasks/audio.ts). */
  talkedUntil?: AudioSnapshot;
  /** When the scenario asked the API to transfer this call (suite clock). */
  transferRequestedAt?: number;
  /** The outside line that took the call over from the caller in a transfer, once it answered. */
  transferredTo?: PstnCall;
  /** When the scenario asked the API to hang this call up (suite clock). */
  hangupRequestedAt?: number;
}

/** A person with a SIP account of a customer's: a subscriber of the platform's voice services. */
export type Subscriber = Person & { sip: { username: string; password: string }; customer: string };

/** A call from the outside network into the platform, from both ends. */
export interface InboundCallUnderTest {
  caller: Person;
  callee: Person;
  /** The caller's side, at the PSTN double. */
  pstn: PstnCall;
  /** The callee's phone's side, once it rang. */
  ringing?: PhoneCall;
  placedAt: number;
  /** Frames of the "try again" prompt heard before the latest wrong code (a verification line). */
  promptsHeardBefore?: number;
  /** Length of the voicemail message the caller left, in seconds. */
  messageSeconds?: number;
}

/** A call attempt that is over, kept for checks of its record. */
export interface FinishedCall {
  caller: Person;
  callee: Person;
  sipCallId: string;
  /** The outcome the scenario arranged ("answered", "busy", …), in the disposition's words. */
  expected: string;
  /** When the call ended at the caller's phone (suite clock). */
  endedAt: number;
  /** Answer to hang-up as the caller's phone measured it; 0 when never answered. */
  talkMs: number;
  /** What the platform can have measured, from what both ends saw (ms; see tasks/call-records.ts). */
  talk?: { atLeast: number; atMost: number };
  /** Dial to answer (answered) or to the end (unanswered), bracketed the same way. */
  ring?: { atLeast: number; atMost: number };
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
  /** When the API's answer arrived (suite clock, ms): the platform accepted it between the two. */
  respondedAt?: number;
}

/** The call back the platform placed, from both ends once they answered. */
export interface CallbackNotes {
  /** When the handset texted the keyword (suite clock), and to which of a customer's lines. */
  textedAt?: number;
  textedLine?: { customer: string; line: string };
  /** The mobile that texted, and when the platform's reply reached it (suite clock). */
  texter?: string;
  repliedAt?: number;
  invite?: ReceivedInvite;
  handset?: PstnCall;
  agent?: PhoneCall;
}

export interface VoiceNotes {
  call?: CallUnderTest;
  inboundCall?: InboundCallUnderTest;
  finishedCalls: FinishedCall[];
  /** When the API accepted the latest routing change (suite clock). */
  routeChangedAt?: number;
  /** A raw SIP datagram sender, for malformed traffic. */
  probe?: SipDatagramProbe;
  callback?: CallbackNotes;
  /** The speech-to-text provider as this scenario arranged it (a nock stub in embedded mode). */
  speechToText?: {
    /** The transcript the stub answers with; null when it is out of service. */
    transcript: string | null;
    /** What the stub received: content type and body of each request. */
    requests: Array<{ contentType: string; body: Buffer }>;
  };
}

/** A text sent in a batch, as the API accepted it, with when the request went and was answered. */
export interface SentText {
  person: string;
  text: string;
  id: string;
  acceptedAt: string;
  requestedAt: number;
  respondedAt?: number;
}

export interface MessagingNotes {
  message?: MessageUnderTest;
  /** Texts sent in batches, as the API accepted them (analytics compare against these). */
  sentBatches: SentText[][];
  smpp?: SmppCustomerSession;
  /** How the customer's webhook endpoint was told to fail its first attempts. */
  webhookFailure?: WebhookFailure;
  /** Texts submitted at once over SMPP, and the refusals met on the way. */
  smppBatch?: {
    texts: string[];
    refusals: string[];
    /** Every submit_sm of the batch, retries included: when it went, when it was answered, how. */
    attempts?: Array<{
      text: string;
      try: number;
      sentAt: number;
      answeredAt: number;
      status: string;
      /** The platform's id for an accepted submission. */
      messageId?: string;
    }>;
  };
  /** Texts the spam filter was meant to judge, and what each channel answered (tasks/spam.ts). */
  suspects?: SuspectText[];
  /** A second mobile network (abroad) with the number range the platform routes to it. */
  foreignCarrier?: {
    double: CarrierSmscDouble;
    range: string;
    connectorId: string;
    credentials: { systemId: string; password: string };
    port: number;
    /** While the network is unreachable: a listener on its port that counts the platform's attempts and hangs up. */
    outage?: { close: () => Promise<void>; attempts: Observed<number> };
  };
}

/** A text sent to see what the spam filter makes of it, and the answer of the channel it went through. */
export interface SuspectText {
  channel: 'api' | 'smpp' | 'campaign';
  from: string;
  to: string;
  text: string;
  customer: string;
  /** The rule it breaks, or null for a text that must go through. */
  breaks: string | null;
  /** The API's status, body and request id, or the submit_sm_resp's status name. */
  answer:
    | { status: number; body: unknown; requestId?: string }
    | { smppStatus: string; messageId?: string }
    /** A campaign's text: the campaign it went out in (its contacts report the outcome). */
    | { campaign: string };
}

/** Outcomes of attempts that were expected to be refused. */
export interface Refusals {
  registration?: Error;
  bind?: Error & { statusName?: string };
  /** The last raw HTTP answer a negative step received. */
  lastResponse?: { status: number; headers: Record<string, string | string[] | undefined>; body: unknown };
  /** Each operator-only operation tried with a customer's key, and what it answered. */
  operatorOnly?: Array<{ request: string; status: number | undefined; answer: string }>;
  /** The value a refused change offered (a trunk id, a number): the refusal must name it. */
  offered?: string;
  /** An attacker's tries against the SIP edge, and what the edge answered (TEST-INT-051). */
  sipAttack?: SipAttackNotes;
  /** Calls a phone placed to test a call limit (toll fraud, calls at once), and how each was answered. */
  limitedCalls?: Array<{
    number: string;
    status?: number;
    reason?: string;
    kind: string;
    /** The answer's Retry-After and Warning, when it had them. */
    retryAfter?: string;
    warning?: string;
    /** Whose phone placed it, when several did. */
    caller?: string;
    /** When its final answer came (epoch ms). */
    answeredAt?: number;
  }>;
}

/** The attacker of a scenario (world/attack/) and what its attacks met. */
export interface SipAttackNotes {
  attacker: SipAttacker;
  dictionary?: DictionaryAttack;
  /** A scanner's request and an ordinary phone's, from the same address: what each got. */
  sweep?: { scanner?: Answer; phone?: Answer };
  /** Each probe of an existing and a missing account: the same steps, their answers. */
  probes?: Array<{ step: string; existing: Answer; missing: Answer }>;
  /** A call sent to a customer's number as if from their carrier, from another address. */
  spoofedCarrier?: { answer: Answer; sentAt: number };
}

/** A text the platform acknowledged (API 202 or submit_sm_resp) before or around a crash. */
export interface AcknowledgedText {
  id: string;
  to: string;
  text: string;
  /** Suite clock when the acknowledgement arrived. */
  acknowledgedAt: number;
}

/** What a failover scenario did to the platform and what it measured. */
export interface FailoverNotes {
  /** The faults injected, latest last, with the nodes as the seam listed them just before. */
  faults: Array<InjectedFault & { nodesBefore?: NodeStatus[] }>;
  /** Packet counters of the current call's parties when the latest fault hit. */
  audioAtFault?: AudioSnapshot;
  /** Traffic position when the latest fault hit: what the phones were asked after it. */
  trafficAtFault?: number;
  /** The longest silence each party of the call heard (ms), once audio came back. */
  audioGaps?: Record<string, number>;
  /** Texts acknowledged while the SMSC node was about to crash. */
  acknowledged: AcknowledgedText[];
  /** The SMSC's count of texts re-sent from the in-flight window, just before the crash. */
  resentInFlightBefore?: number;
  /** A text sent through the same address right after the crash: its arrival measures the failover. */
  probeText?: AcknowledgedText;
  /** A request sent with an Idempotency-Key, its first answer, and the retry's. */
  idempotent?: { key: string; json: unknown; first: RawResponse; retry?: RawResponse };
  /** SIP Call-IDs of the calls made before a crash, whose records are paged through across it. */
  callsMade?: string[];
  /** Records paged so far and the cursor the (now dead) gateway node issued for the rest. */
  paging?: { seen: string[]; cursor: string | null };
  /** A phone that registered through the same address after the crash. */
  phoneAfter?: SipPhone;
}

/**
 * One World per scenario (Cucumber's rule). It holds the scenario's actors and what they did;
 * the long-lived servers live in the per-worker SuiteEnvironment it points to.
 */
export class Phase2World extends World {
  env!: SuiteEnvironment;
  /** The mobile network double as an actor: handsets, their texts, what the platform submitted. */
  mobileNetwork!: MobileNetwork;
  readonly customers = new Map<string, CustomerActor>();
  readonly people = new Map<string, Person>();
  /** Calls of this scenario: the one under discussion, the ones that ended, call backs, voicemail. */
  readonly voice: VoiceNotes = { finishedCalls: [] };
  /** Texts of this scenario: the one under discussion, batches, the SMPP session, a foreign network. */
  readonly messaging: MessagingNotes = { sentBatches: [] };
  /** What was refused on purpose: the registration, the SMPP bind, the last API answer. */
  readonly refusals: Refusals = {};
  /** Faults injected into the platform and what the scenario measured around them. */
  readonly failover: FailoverNotes = { faults: [], acknowledged: [] };
  /** Traffic position at scenario start: evidence is what came after it. */
  readonly trafficMark = traffic.mark();
  /** The scenario's name, for titles of evidence. */
  scenarioName?: string;
  /** Traffic position at the end of the last step: the next step's evidence starts after it. */
  stepTrafficMark = this.trafficMark;
  private readonly cleanups = new Cleanups();
  private readonly networks = new Map<string, PstnDouble>();
  private settings?: PlatformSettings;

  constructor(options: IWorldOptions) {
    super(options);
  }

  /** The platform's operator (admin key): provisions customers and carrier connectors, reads settings. */
  get operator(): PlatformApi {
    return this.env.operator;
  }

  /** The one customer of the scenario, for steps that need not name it. */
  onlyCustomerName(): string {
    const names = [...this.customers.keys()];
    if (names.length !== 1)
      throw new Error(
        `This step needs exactly one customer in the scenario; there are: ${names.join(', ') || 'none'}.`,
      );
    return names[0] ?? '';
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

  subscriber(name: string): Subscriber {
    const person = this.person(name);
    if (!person.sip || !person.customer)
      throw new Error(`${name} has no SIP account of a customer in this scenario.`);
    return person as Subscriber;
  }

  /**
   * A new handset on the worker's mobile network double (a number in the worker's own range),
   * behaving as asked, forgotten by the double when the scenario ends.
   */
  newHandset(behaviour: HandsetBehaviour = 'deliver', timing: HandsetTiming = {}): string {
    return this.mobileNetwork.newHandset(behaviour, timing);
  }

  currentCall(): CallUnderTest {
    if (!this.voice.call) throw new Error('No call has been made in this scenario yet.');
    return this.voice.call;
  }

  currentMessage(): MessageUnderTest {
    if (!this.messaging.message) throw new Error('No message has been sent in this scenario yet.');
    return this.messaging.message;
  }

  /**
   * The public telephone network behind this scenario's trunks: a PSTN double of its own, so a
   * call arriving there can only have come over this scenario's trunk. A scenario with several
   * carriers names them ("Carrier A"); each is a double of its own. Started on first use; at the
   * end, anything it saw go wrong (a missing ACK, a malformed message) fails the scenario.
   */
  async telephoneNetwork(carrier = 'PSTN'): Promise<PstnDouble> {
    let network = this.networks.get(carrier);
    if (!network) {
      // Each outside line speaks with its person's voice: two of them in one call sound different.
      const started = new PstnDouble({ actor: carrier, voiceOf: (number) => this.voiceOfNumber(number) });
      await started.start();
      this.networks.set(carrier, started);
      network = started;
      this.onCleanup(async () => {
        await started.stop();
        const problems = started.problems.all();
        if (problems.length > 0) {
          throw new Error(
            `${carrier === 'PSTN' ? 'The telephone network' : carrier} saw ${problems.length} protocol problem(s) from the platform (see "SIP messages"):\n` +
              problems.map((p) => `  - ${p}`).join('\n'),
          );
        }
      });
    }
    return network;
  }

  /**
   * The pitch a person speaks with on calls: given on first use, distinct from everyone else's
   * in the scenario, so each listener can be checked to hear the speaker and not themselves.
   */
  voiceOf(person: Person): number {
    person.toneHz ??= freeVoiceTone(
      [...this.people.values()].flatMap((p) => (p.toneHz === undefined ? [] : [p.toneHz])),
    );
    return person.toneHz;
  }

  /** The voice of whoever is on `number` (an outside line, a mobile), when it is somebody of the scenario. */
  private voiceOfNumber(number: string): number | undefined {
    const person = [...this.people.values()].find((p) => p.number === number);
    return person ? this.voiceOf(person) : undefined;
  }

  /** The platform's effective timers (read once per scenario through the operations API). */
  async platformSettings(): Promise<PlatformSettings> {
    this.settings ??= await this.operator.settings();
    return this.settings;
  }

  /** Names of the carriers (telephone network doubles) this scenario has started. */
  customerCarriers(): string[] {
    return [...this.networks.keys()];
  }

  currentCallback(): CallbackNotes & { invite: ReceivedInvite } {
    const callback = this.voice.callback;
    if (!callback?.invite) throw new Error('No call back has reached anyone in this scenario yet.');
    // The notes themselves, not a copy: answering the call back adds both ends to them.
    return callback as CallbackNotes & { invite: ReceivedInvite };
  }

  currentInboundCall(): InboundCallUnderTest {
    if (!this.voice.inboundCall)
      throw new Error('No call has come in from the outside network in this scenario yet.');
    return this.voice.inboundCall;
  }

  /** Registers teardown work (phones to unregister, sessions to close); run in reverse order. */
  onCleanup(fn: () => Promise<void>): void {
    this.cleanups.add(fn);
  }

  async cleanup(): Promise<void> {
    await this.cleanups.run();
  }
}
