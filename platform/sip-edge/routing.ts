/**
 * Where a call goes, read from the store: registered accounts by username or number, the
 * customer's trunks by longest destination prefix, and trunks recognised by source address.
 */
import type { Db } from '../store/store';
import { ACCOUNT_COLUMNS, toAccount, type AccountRecord, type SipAccount } from './auth';
import type { TrunkRow as StoredTrunkRow } from '../store/rows';
import type { Flow } from './transport';

export interface TrunkRow {
  id: string;
  customerId: string;
  name: string;
  host: string;
  port: number;
  transport: string;
  destinationPrefixes: string[];
  callerId: string | null;
  callerIdPresentation: 'allowed' | 'withheld';
}

/** The trunks table row, as the core defines it (created_at is not read here). */
type TrunkRecord = Omit<StoredTrunkRow, 'created_at'>;

/** "+15551234" stays; "15551234" becomes "+15551234"; anything else (a username, a short code) is kept. */
export function toE164(dialed: string): string {
  const cleaned = dialed.replace(/[\s().-]/g, '');
  return /^\+\d+$/.test(cleaned) ? cleaned : /^\d{7,15}$/.test(cleaned) ? `+${cleaned}` : cleaned;
}

export class CallRouting {
  constructor(private readonly db: Db) {}

  /** The account a dialed string reaches: its username, or its number (with or without "+"). */
  findAccountByTarget(target: string): SipAccount | undefined {
    const candidates = [...new Set([target, toE164(target), target.replace(/^\+/, '')])];
    for (const candidate of candidates) {
      const row = this.db
        .prepare(
          `SELECT ${ACCOUNT_COLUMNS} FROM sip_accounts WHERE username = ? OR number = ? ORDER BY created_at LIMIT 1`,
        )
        .get(candidate, candidate) as AccountRecord | undefined;
      if (row) return toAccount(row);
    }
    return undefined;
  }

  /**
   * The trunk a customer's call to `dialedE164` leaves by: the customer's routing rule with the
   * longest matching prefix, else the trunk with the longest matching destination prefix
   * ([] matches everything, as length 0).
   */
  findTrunkFor(customerId: string, dialedE164: string): TrunkRow | undefined {
    const rule = this.db
      .prepare(
        `SELECT t.* FROM routing_rules r JOIN trunks t ON t.id = r.trunk_id
         WHERE r.customer_id = ? AND substr(?, 1, length(r.prefix)) = r.prefix
         ORDER BY length(r.prefix) DESC LIMIT 1`,
      )
      .get(customerId, dialedE164) as TrunkRecord | undefined;
    if (rule) return toTrunk(rule);
    const rows = this.db
      .prepare('SELECT * FROM trunks WHERE customer_id = ? ORDER BY created_at, id')
      .all(customerId) as TrunkRecord[];
    let best: { trunk: TrunkRow; length: number } | undefined;
    for (const trunk of rows.map(toTrunk)) {
      const prefixes = trunk.destinationPrefixes.map(toE164);
      const matchLength =
        prefixes.length === 0
          ? 0
          : Math.max(
              -1,
              ...prefixes.filter((prefix) => dialedE164.startsWith(prefix)).map((prefix) => prefix.length),
            );
      if (matchLength < 0) continue;
      if (!best || matchLength > best.length) best = { trunk, length: matchLength };
    }
    return best?.trunk;
  }

  /** Trunks whose host:port is this source address (several customers may share one carrier). */
  trunksAt(address: string, port: number): TrunkRow[] {
    const hosts = address === '127.0.0.1' ? [address, 'localhost'] : [address];
    const rows = this.db
      .prepare(
        `SELECT * FROM trunks WHERE port = ? AND host IN (${hosts.map(() => '?').join(', ')}) ORDER BY created_at, id`,
      )
      .all(port, ...hosts) as TrunkRecord[];
    return rows.map(toTrunk);
  }

  /** Who owns a number (E.164 or short code), if anyone. */
  numberOwner(number: string): string | undefined {
    const row = this.db.prepare('SELECT customer_id FROM numbers WHERE e164 = ?').get(number) as
      { customer_id: string } | undefined;
    return row?.customer_id;
  }

  /** The service a number is dedicated to ('verification'), if any. */
  numberService(number: string): string | undefined {
    const row = this.db.prepare('SELECT voice_service FROM numbers WHERE e164 = ?').get(number) as
      { voice_service: string | null } | undefined;
    return row?.voice_service ?? undefined;
  }

  /** The account that answers a number. */
  accountForNumber(number: string): SipAccount | undefined {
    const row = this.db
      .prepare(`SELECT ${ACCOUNT_COLUMNS} FROM sip_accounts WHERE number = ? ORDER BY created_at LIMIT 1`)
      .get(number) as AccountRecord | undefined;
    return row ? toAccount(row) : undefined;
  }
}

/** Where the edge sends a leg it originates, and how it presents itself there. */
export interface LegTarget {
  flow: Flow;
  uri: string;
  from: string;
  to: string;
  extraHeaders: Array<[string, string]>;
  /** Route of the INVITE: the Path the callee registered with (RFC 3327 §5), if any. */
  route?: string[];
}

/**
 * A leg to the outside network over a trunk, presenting `presented` in From and
 * P-Asserted-Identity; withheld presents as anonymous in From and keeps the real number only in
 * P-Asserted-Identity with Privacy: id (RFC 3325), for the carrier alone.
 */
export function trunkLegTarget(
  trunk: TrunkRow,
  dialed: string,
  presented: { number: string; withheld: boolean },
  domain: string,
  extraHeaders: Array<[string, string]> = [],
): LegTarget {
  const identity = `<sip:${presented.number}@${domain}>`;
  const hostPort = `${trunk.host}:${trunk.port}`;
  const user = escapeUriUser(dialed);
  return {
    flow: {
      transport: 'UDP',
      address: trunk.host === 'localhost' ? '127.0.0.1' : trunk.host,
      port: trunk.port,
    },
    uri: `sip:${user}@${hostPort}`,
    from: presented.withheld ? '"Anonymous" <sip:anonymous@anonymous.invalid>' : identity,
    to: `<sip:${user}@${hostPort}>`,
    extraHeaders: [
      ['P-Asserted-Identity', identity],
      ...(presented.withheld ? ([['Privacy', 'id']] as Array<[string, string]>) : []),
      ...extraHeaders,
    ],
  };
}

/** A validated dial target as a URI user part: "#" is not allowed unescaped there (RFC 3261 §25.1). */
function escapeUriUser(target: string): string {
  return target.replace(/#/g, '%23');
}

function toTrunk(row: TrunkRecord): TrunkRow {
  let prefixes: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.destination_prefixes);
    if (Array.isArray(parsed)) prefixes = parsed.filter((p): p is string => typeof p === 'string');
  } catch {
    // A corrupt prefix list must not match everything: a sentinel prefix nothing dials.
    prefixes = ['#invalid'];
  }
  return {
    id: row.id,
    customerId: row.customer_id,
    name: row.name,
    host: row.host,
    port: row.port,
    transport: row.transport,
    destinationPrefixes: prefixes,
    callerId: row.caller_id,
    callerIdPresentation: row.caller_id_presentation === 'withheld' ? 'withheld' : 'allowed',
  };
}
