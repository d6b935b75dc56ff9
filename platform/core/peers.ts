import { BlockList, isIP } from 'node:net';

/**
 * The hosts the platform may send to on a customer's behalf (config `network.allowedPeerHosts`):
 * trunk hosts and webhook URLs come from the API, so without this check any caller could point
 * the platform at any machine. Loopback (127.0.0.0/8) is always allowed.
 */
export class PeerAllowlist {
  private readonly names = new Set<string>();
  private readonly addresses = new BlockList();

  /** Entries: host names (exact, case-insensitive), IP addresses, or CIDR blocks such as 10.20.0.0/16. */
  constructor(readonly entries: readonly string[]) {
    this.addresses.addSubnet('127.0.0.0', 8, 'ipv4');
    for (const entry of entries) {
      const cidr = /^(.+)\/(\d{1,3})$/.exec(entry.trim());
      if (cidr) {
        const family = isIP(cidr[1]);
        const prefix = Number(cidr[2]);
        if (family === 0 || prefix > (family === 4 ? 32 : 128))
          throw new Error(`network.allowedPeerHosts: ${entry} is not a valid CIDR block`);
        this.addresses.addSubnet(cidr[1], prefix, family === 4 ? 'ipv4' : 'ipv6');
        continue;
      }
      const host = normalizeHost(entry);
      const family = isIP(host);
      if (family !== 0) this.addresses.addAddress(host, family === 4 ? 'ipv4' : 'ipv6');
      else if (host !== '') this.names.add(host);
      else throw new Error('network.allowedPeerHosts: empty entry');
    }
  }

  /** Whether the platform may send to this host (a name, an IP address, or a bracketed IPv6 literal). */
  allows(host: string): boolean {
    const normalized = normalizeHost(host);
    const family = isIP(normalized);
    if (family !== 0) return this.addresses.check(normalized, family === 4 ? 'ipv4' : 'ipv6');
    return this.names.has(normalized);
  }

  /** The rule in words, for a 422 field message or a delivery's last_error. */
  rule(): string {
    return `must be a loopback address or a host allowed by the platform's network.allowedPeerHosts (${this.entries.join(', ')})`;
  }
}

/** Why a webhook URL may not be used, or undefined when it may: http(s) only, to an allowed host. */
export function webhookUrlRefusal(url: string, peers: PeerAllowlist): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return `must be an absolute http or https URL (got ${parsed.protocol.slice(0, -1)})`;
  // The WHATWG parser has already canonicalised the host (127.1 → 127.0.0.1), as the HTTP client will see it.
  if (!peers.allows(parsed.hostname)) return `host ${parsed.hostname} ${peers.rule()}`;
  return undefined;
}

function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}
