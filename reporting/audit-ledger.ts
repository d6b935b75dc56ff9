/**
 * The changes the suite made through the platform's API, by request id: the "complete audit
 * trail" metric (TEST-INT-054) checks that each appears exactly once in the platform's trail.
 * The API client notes every 2xx answer to a POST, PUT, PATCH or DELETE (not an Idempotency-Key
 * replay: nothing changed); an After hook drains the ledger and asks the platform.
 */

export interface AuditedChange {
  /** The API it was sent to: a failover scenario's own platform is not the shared one. */
  baseUrl: string;
  requestId: string;
  /** `POST /v1/sip-accounts`, for people. */
  requestLine: string;
}

export class AuditLedger {
  private changes: AuditedChange[] = [];

  changed(change: AuditedChange): void {
    this.changes.push(change);
  }

  drain(): AuditedChange[] {
    const drained = this.changes;
    this.changes = [];
    return drained;
  }
}

/** One ledger per process (a Cucumber worker runs one scenario at a time). */
export const auditLedger = new AuditLedger();

/** Whether an answer means the platform changed something the trail must show. */
export function isAuditedChange(method: string, status: number, replayed: boolean): boolean {
  return (
    !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase()) && status >= 200 && status < 300 && !replayed
  );
}
