/** What the rest of the platform asks of the SMSC role (the API's "send SMS" goes through here). */
export interface AcceptMessageInput {
  customerId: string;
  source: 'api' | 'smpp';
  sender: string;
  recipient: string;
  text: string;
  /** Ask the carrier for a delivery receipt (SMPP registered_delivery bit 0). */
  registeredDelivery: boolean;
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

  /** Routes recipients starting with prefix ('' = default route) to a connector. */
  setRoute(prefix: string, connectorId: string): void;

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
    readonly reason: 'invalid-sender' | 'invalid-recipient' | 'invalid-text' | 'too-long',
    message: string,
  ) {
    super(message);
  }
}
