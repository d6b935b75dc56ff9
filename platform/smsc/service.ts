/** What the rest of the platform asks of the SMSC role (the API's "send SMS" goes through here). */
export interface AcceptMessageInput {
  customerId: string;
  source: 'api' | 'smpp' | 'campaign' | 'platform';
  sender: string;
  recipient: string;
  text: string;
  /**
   * Which final outcomes earn the customer a receipt (SMPP 3.4 §5.2.17, registered_delivery bits
   * 0–1): true = every outcome (1), 'failure-only' = only failures (2), false = none (0). The SMSC
   * itself always asks the carrier for receipts: it needs them to know the final status.
   */
  registeredDelivery: ReceiptRequest;
}

export type ReceiptRequest = boolean | 'failure-only';

/** SMPP registered_delivery bits 0–1, as messages.registered_delivery stores them. */
export const REGISTERED_DELIVERY = { none: 0, always: 1, failureOnly: 2 } as const;

export function registeredDeliveryValue(request: ReceiptRequest): number {
  if (request === 'failure-only') return REGISTERED_DELIVERY.failureOnly;
  return request ? REGISTERED_DELIVERY.always : REGISTERED_DELIVERY.none;
}

/**
 * The receipt request of an SMPP registered_delivery octet. Value 3 is reserved in SMPP 3.4;
 * it is read as "always" (a receipt too many beats one the customer is waiting for).
 */
export function receiptRequestOf(registeredDelivery: number): ReceiptRequest {
  switch (registeredDelivery & 0x03) {
    case 0:
      return false;
    case 2:
      return 'failure-only';
    default:
      return true;
  }
}

export interface AcceptedMessage {
  id: string;
  status: 'queued';
  encoding: 'gsm7' | 'ucs2';
  parts: number;
  acceptedAt: string;
}

export interface SmscService {
  /**
   * Validates, persists (status queued) and schedules delivery. Once this returns, the message
   * survives a restart and is delivered when a connector to the carrier is up.
   * Throws SmscRejection for input the SMSC refuses (bad address, empty or oversized text).
   */
  acceptMessage(input: AcceptMessageInput): AcceptedMessage;

  /** Creates or replaces an upstream carrier connector and (re)binds it. */
  upsertConnector(connector: ConnectorSettings): void;

  /**
   * Unbinds (unbind, then close; resolves once done) and forgets a connector, and removes every
   * route to it. Messages queued for it stay queued: they are sent once a route to a bound
   * connector exists again. Resolves false when no connector has this id.
   */
  removeConnector(id: string): Promise<boolean>;

  /** Routes recipients starting with prefix ('' = default route) to a connector. */
  setRoute(prefix: string, connectorId: string): void;

  /**
   * Removes the route for exactly this prefix; false when there is none. Queued messages it
   * covered stay queued (a shorter prefix may take them; else they wait for a new route).
   */
  removeRoute(prefix: string): boolean;

  /** Every connector with its live bind state, for operations endpoints and preflight. */
  connectors(): ConnectorStatus[];
}

export interface ConnectorSettings {
  id: string;
  host: string;
  port: number;
  systemId: string;
  password: string;
}

export interface ConnectorStatus {
  id: string;
  host: string;
  port: number;
  systemId: string;
  state: 'connecting' | 'bound' | 'down';
  lastError: string | null;
}

export class SmscRejection extends Error {
  constructor(
    readonly reason: 'invalid-sender' | 'invalid-recipient' | 'invalid-text' | 'too-long' | 'spam',
    message: string,
  ) {
    super(message);
  }
}
