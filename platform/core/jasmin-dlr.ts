/**
 * Jasmin's HTTP DLR callback dialect (what a Jasmin SMSC POSTs to a customer's dlr-url), for
 * customers whose systems were built against Jasmin: form fields, level 1 for the SMSC's
 * acknowledgement and level 2 for the final state, and the receiver must answer "ACK/Jasmin".
 */
import type { MessageRow } from '../smsc';

export const JASMIN_ACK = 'ACK/Jasmin';

const FINAL_STATE: Record<string, string> = {
  delivered: 'DELIVRD',
  undeliverable: 'UNDELIV',
  expired: 'EXPIRED',
  rejected: 'REJECTD',
  failed: 'UNDELIV',
};

/** YYMMDDhhmm, the SMPP receipt date format Jasmin passes on. */
function receiptDate(iso: string | null): string {
  if (iso === null) return '';
  const d = new Date(iso);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}`;
}

/** The form body of one callback, or undefined for an event Jasmin does not report. */
export function jasminDlrForm(type: string, row: MessageRow): string | undefined {
  const status = type.replace(/^message\./, '');
  const carrierIds = JSON.parse(row.carrier_message_ids) as Array<string | null>;
  const common = { id: row.id, connector: row.connector_id ?? '' };
  if (status === 'sent')
    return new URLSearchParams({ ...common, message_status: 'ESME_ROK', level: '1' }).toString();
  const state = FINAL_STATE[status];
  if (state === undefined) return undefined;
  return new URLSearchParams({
    ...common,
    message_status: state,
    level: '2',
    id_smsc: carrierIds.filter((id): id is string => id !== null).join(','),
    sub: '001',
    dlvrd: state === 'DELIVRD' ? '001' : '000',
    subdate: receiptDate(row.sent_at ?? row.accepted_at),
    donedate: receiptDate(row.done_at),
    err: row.error_code ?? '000',
    text: row.text.slice(0, 20),
  }).toString();
}
