import type { Db } from './store';

/**
 * Whether a number has opted out of a customer's texts (it texted STOP, or the customer recorded
 * it). Here, beside the store, so every front door (API, SMPP, campaigns) can ask without
 * depending on the opt-out feature's module.
 */
export function isOptedOut(db: Db, customerId: string, number: string): boolean {
  return (
    db.prepare('SELECT 1 FROM opt_outs WHERE customer_id = ? AND number = ?').get(customerId, number) !==
    undefined
  );
}
