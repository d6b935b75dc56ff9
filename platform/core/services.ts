/**
 * The platform's business services behind the API, one per resource: every rule about who may
 * own what lives in them, independent of HTTP. Input arrives as untrusted JSON (`unknown`) and is
 * validated field by field. This file only assembles them; platform/index.ts calls it once and
 * hands the result to the gateway.
 */
import { QuotaCounters } from './customer-quotas';
import type { Db } from '../store/store';
import type { PlatformConfig } from '../config';
import type { Bus } from '../bus';
import type { SmscService } from '../smsc';
import type { LiveCallControl } from '../contracts';
import type { PeerAllowlist } from './peers';
import { CustomerServices } from './customers';
import { NumberServices } from './numbers';
import { SipAccountServices } from './sip-accounts';
import { TrunkServices } from './trunks';
import { LiveCallServices } from './live-calls';
import { CallRecordServices } from './call-records';
import { MessageServices } from './messages';
import { TemplateServices } from './message-templates';
import { WebhookSubscriptionServices } from './webhook-subscriptions';
import { OperationServices } from './operations';
import { ContactListServices } from './contact-list-services';
import { CampaignServices } from './campaigns';
import { OptOutServices } from './opt-out-services';
import { IdentityServices } from './identity';

export type { Caller, CreatedCustomer } from './customers';
export type { CreatedWebhook } from './webhook-subscriptions';
export type { MessageAnalytics } from './messages';
export type { CdrFilter } from './call-records';
export { MAX_CDR_PAGE } from './call-records';
export type { LiveCallControl, LiveCallResource } from '../contracts';

export interface CoreServices {
  customers: CustomerServices;
  numbers: NumberServices;
  sipAccounts: SipAccountServices;
  trunks: TrunkServices;
  liveCalls: LiveCallServices;
  callRecords: CallRecordServices;
  messages: MessageServices;
  templates: TemplateServices;
  webhooks: WebhookSubscriptionServices;
  operations: OperationServices;
  contactLists: ContactListServices;
  campaigns: CampaignServices;
  optOuts: OptOutServices;
  identity: IdentityServices;
  /** Per-customer text and call-attempt quotas, for /ops/v1/customers/{id}/quotas. */
  quotas: QuotaCounters;
}

/** What the services stand on: the store, the smsc role's entry point and the sip-edge's call control. */
export interface CoreServiceDeps {
  db: Db;
  smsc: SmscService;
  sipDomain: string;
  /** Where trunks, webhooks and connectors may point: the platform sends traffic there. */
  peers: PeerAllowlist;
  calls: LiveCallControl;
  campaigns: PlatformConfig['campaigns'];
  /** Announces rejected texts (message.rejected webhooks). */
  bus: Bus;
  spam: PlatformConfig['security']['spam'];
  limits: PlatformConfig['security']['limits'];
}

export function createCoreServices(deps: CoreServiceDeps): CoreServices {
  const { db } = deps;
  const quotas = new QuotaCounters(db, deps.limits);
  const numbers = new NumberServices(db);
  const senderProblem = (customerId: string, from: string): string | undefined =>
    numbers.senderProblem(customerId, from);
  return {
    customers: new CustomerServices(db),
    numbers,
    sipAccounts: new SipAccountServices(db, deps.sipDomain),
    trunks: new TrunkServices(db, deps.peers),
    liveCalls: new LiveCallServices(deps.calls),
    callRecords: new CallRecordServices(db),
    messages: new MessageServices(db, deps.smsc, senderProblem, deps.bus, deps.spam, quotas),
    templates: new TemplateServices(db),
    webhooks: new WebhookSubscriptionServices(db, deps.peers),
    operations: new OperationServices(db, deps.smsc, deps.peers),
    contactLists: new ContactListServices(db),
    campaigns: new CampaignServices(db, deps.campaigns, senderProblem),
    optOuts: new OptOutServices(db),
    identity: new IdentityServices(db),
    quotas,
  };
}
