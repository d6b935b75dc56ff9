import { E164 } from '../phone-numbers';
import { nowIso } from '../store/store';
import type { MessageStore } from './message-store';
import {
  registeredDeliveryValue,
  SmscRejection,
  type AcceptMessageInput,
  type AcceptedMessage,
} from './service';
import { encodeText, MAX_PARTS } from './sms-text';

const SHORT_CODE = /^\d{3,8}$/;
const ALPHANUMERIC = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;

/**
 * Validates a message and stores it as queued: what "accepted" means, whichever process accepts
 * it (the SMSC role itself, or a process that hands it to the SMSC role through the store).
 * Throws SmscRejection for input the SMSC refuses; writes nothing then.
 */
export function storeAcceptedMessage(
  store: MessageStore,
  input: AcceptMessageInput,
  id: string,
): AcceptedMessage {
  validateAddresses(input.sender, input.recipient);
  if (typeof input.text !== 'string' || input.text.length === 0)
    throw new SmscRejection('invalid-text', 'text must not be empty');
  const encoded = encodeText(input.text);
  const parts = encoded.segments.length;
  if (parts > MAX_PARTS) {
    throw new SmscRejection(
      'too-long',
      `text needs ${parts} parts in ${encoded.encoding}; at most ${MAX_PARTS} are allowed`,
    );
  }
  const acceptedAt = nowIso();
  insertQueued(store, input, id, encoded.encoding, parts, acceptedAt);
  return { id, status: 'queued', encoding: encoded.encoding, parts, acceptedAt };
}

/** The message row as the SMSC first stores it: queued, no part sent or reported yet. */
export function insertQueued(
  store: MessageStore,
  input: AcceptMessageInput,
  id: string,
  encoding: 'gsm7' | 'ucs2',
  parts: number,
  acceptedAt: string,
): void {
  const unknownPerPart = JSON.stringify(new Array<null>(parts).fill(null));
  store.insert({
    id,
    customer_id: input.customerId,
    source: input.source,
    sender: input.sender,
    recipient: input.recipient,
    text: input.text,
    encoding,
    parts,
    status: 'queued',
    carrier_message_ids: unknownPerPart,
    part_states: unknownPerPart,
    registered_delivery: registeredDeliveryValue(input.registeredDelivery),
    accepted_at: acceptedAt,
  });
}

/** Throws SmscRejection unless sender and recipient are valid. */
export function validateAddresses(sender: string, recipient: string): void {
  if (
    typeof sender !== 'string' ||
    !(E164.test(sender) || SHORT_CODE.test(sender) || ALPHANUMERIC.test(sender))
  ) {
    throw new SmscRejection(
      'invalid-sender',
      `sender ${JSON.stringify(sender)} is neither an E.164 number (+ and 8–15 digits), a short code (3–8 digits) nor an alphanumeric id (≤ 11 letters/digits)`,
    );
  }
  if (typeof recipient !== 'string' || !E164.test(recipient)) {
    throw new SmscRejection(
      'invalid-recipient',
      `recipient ${JSON.stringify(recipient)} is not an E.164 number (+ and 8–15 digits)`,
    );
  }
}

/** Source TON/NPI as carriers expect them for each kind of sender. */
export function submitAddress(sender: string): { ton: number; npi: number; address: string } {
  if (sender.startsWith('+')) return { ton: 1, npi: 1, address: sender.slice(1) };
  if (SHORT_CODE.test(sender)) return { ton: 3, npi: 0, address: sender };
  return { ton: 5, npi: 0, address: sender };
}
