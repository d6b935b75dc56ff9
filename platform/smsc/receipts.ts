/**
 * Delivery receipts in the de-facto SMPP 3.4 Appendix B text format:
 * `id:X sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD err:000 text:…`
 */

export type ReceiptStat =
  'DELIVRD' | 'EXPIRED' | 'DELETED' | 'UNDELIV' | 'ACCEPTD' | 'UNKNOWN' | 'REJECTD' | 'ENROUTE';

export const FINAL_STATS: ReadonlySet<string> = new Set([
  'DELIVRD',
  'EXPIRED',
  'DELETED',
  'UNDELIV',
  'UNKNOWN',
  'REJECTD',
]);

/** SMPP message_state TLV values. */
export const MESSAGE_STATE: Record<ReceiptStat, number> = {
  ENROUTE: 1,
  DELIVRD: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIV: 5,
  ACCEPTD: 6,
  UNKNOWN: 7,
  REJECTD: 8,
};

export interface ParsedReceipt {
  id: string | null;
  stat: string | null;
  err: string | null;
}

/** Reads id, stat and err from receipt text; fields that are absent come back null. */
export function parseReceiptText(text: string): ParsedReceipt {
  const field = (name: string): string | null =>
    new RegExp(`(?:^|\\s)${name}:(\\S*)`, 'i').exec(text)?.[1] ?? null;
  return { id: field('id'), stat: field('stat')?.toUpperCase() ?? null, err: field('err') };
}

/** YYMMDDhhmm in UTC, as receipts carry dates. */
export function receiptDate(iso: string): string {
  const date = new Date(iso);
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    two(date.getUTCFullYear() % 100) +
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes())
  );
}

export function formatReceiptText(receipt: {
  id: string;
  stat: ReceiptStat;
  err: string;
  submittedAt: string;
  doneAt: string;
  text: string;
}): string {
  const delivered = receipt.stat === 'DELIVRD' ? '001' : '000';
  // Only letters, digits and spaces: identical in GSM 03.38 and ASCII, so any ESME decodes it.
  const excerpt = receipt.text.replace(/[^A-Za-z0-9 ]/g, ' ').slice(0, 20);
  return (
    `id:${receipt.id} sub:001 dlvrd:${delivered} submit date:${receiptDate(receipt.submittedAt)} ` +
    `done date:${receiptDate(receipt.doneAt)} stat:${receipt.stat} err:${receipt.err.padStart(3, '0')} text:${excerpt}`
  );
}
