import type { SmscService } from '../smsc';

/**
 * Texts the platform sends itself on a customer's behalf (notices, replies, codes), from one of
 * the customer's numbers, without a delivery receipt for the customer.
 */
export function platformTexter(
  smsc: SmscService,
  log: (message: string) => void,
): (customerId: string, from: string, to: string, body: string) => void {
  return (customerId, from, to, body) => {
    const accepted = smsc.acceptMessage({
      customerId,
      source: 'platform',
      sender: from,
      recipient: to,
      text: body,
      registeredDelivery: false,
    });
    log(`text ${accepted.id} from ${from} to ${to}: ${JSON.stringify(body)}`);
  };
}
