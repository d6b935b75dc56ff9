import type { IWorld } from '@cucumber/cucumber';
import type { PlatformApi } from '../world/http/api-client';
import { auditLedger, type AuditedChange } from './audit-ledger';
import { METRIC_MEDIA_TYPE } from './metrics';

/** Request ids asked about per list request (the query string stays a few kilobytes). */
const IDS_PER_QUERY = 100;

/**
 * At scenario end (before cleanup): every change the suite made since the last check is looked
 * up in the platform's audit trail by its request id, and how many entries carry it becomes an
 * `audit` metric (one attachment for the scenario). `operators` are the operator clients of the
 * platforms still running; changes sent to another (a failover scenario's platform, already
 * stopped) cannot be looked up any more and are left out, named in an attachment. Never asserts:
 * the run summary judges completeness; TEST-INT-054 asserts it for its own changes.
 */
export async function recordAuditCompleteness(
  world: Pick<IWorld, 'attach'>,
  operators: Array<{ baseUrl: string; api: PlatformApi }>,
): Promise<void> {
  const changes = auditLedger.drain();
  if (changes.length === 0) return;
  const lines: string[] = [];
  const unchecked: string[] = [];
  for (const [baseUrl, sent] of groupBy(changes, (c) => c.baseUrl)) {
    const operator = operators.find((o) => o.baseUrl === baseUrl)?.api;
    if (!operator) {
      unchecked.push(`${sent.length} change(s) sent to ${baseUrl}: that platform is no longer running`);
      continue;
    }
    try {
      const counts = await entriesPerRequest(operator, [...new Set(sent.map((c) => c.requestId))]);
      const seen = new Set<string>();
      for (const change of sent) {
        if (seen.has(change.requestId)) continue;
        seen.add(change.requestId);
        const entries = counts.get(change.requestId) ?? 0;
        lines.push(
          JSON.stringify({
            kind: 'audit',
            name: `${change.requestLine} (request ${change.requestId})`,
            requestId: change.requestId,
            entries,
          }),
        );
      }
    } catch (error) {
      unchecked.push(
        `${sent.length} change(s) sent to ${baseUrl}: ${(error as Error).message.split('\n')[0]}`,
      );
    }
  }
  if (lines.length > 0)
    world.attach(lines.join('\n'), {
      mediaType: METRIC_MEDIA_TYPE,
      fileName: `Metric: ${lines.length} changes looked up in the audit trail`,
    });
  if (unchecked.length > 0)
    world.attach(`Not looked up in the audit trail:\n${unchecked.join('\n')}`, {
      mediaType: 'text/plain',
      fileName: 'Audit trail: changes not checked',
    });
}

/** How many audit entries each request id has, through the operator's audit list. */
export async function entriesPerRequest(
  operator: PlatformApi,
  requestIds: string[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < requestIds.length; i += IDS_PER_QUERY) {
    const chunk = requestIds.slice(i, i + IDS_PER_QUERY);
    let cursor: string | undefined;
    do {
      const page = await operator.listAuditEvents({ requestIds: chunk, limit: 500, cursor });
      for (const event of page.items)
        if (event.requestId !== null) counts.set(event.requestId, (counts.get(event.requestId) ?? 0) + 1);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }
  return counts;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

export type { AuditedChange };
