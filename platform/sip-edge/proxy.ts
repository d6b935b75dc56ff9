/**
 * The edge as an application server behind a SIP proxy (Kamailio): who really sent a request
 * that came through a trusted proxy, the Path a registration carries (RFC 3327) and the route
 * sets of dialogs (RFC 3261 §12.1).
 */
import {
  headerValues,
  splitTopLevelCommas,
  type SipHeaderField,
  type SipRequest,
  type SipResponse,
} from './message';
import type { Flow } from './transport';

export interface ProxyAddress {
  host: string;
  port: number;
}

/**
 * The flow a request really came from. From a trusted proxy (matched by the address and port
 * it sent from), that is the hop below the proxy's own Via: its received address (else its
 * host) and its rport value (else its port, else 5060), as the proxy recorded them. From anyone
 * else the packet's own source: a client may write any Via, so Vias are never believed.
 */
export function trueSource(request: SipRequest, flow: Flow, trusted: readonly ProxyAddress[]): Flow {
  if (flow.transport !== 'UDP' || !trusted.some((p) => p.host === flow.address && p.port === flow.port))
    return flow;
  const below = request.vias[1];
  if (!below) return flow; // the proxy's own request (a dispatcher ping): it is the sender
  return {
    transport: 'UDP',
    address: below.received ?? below.host,
    port: below.rportValue ?? below.port ?? 5060,
  };
}

/** The Path of a REGISTER (RFC 3327), first value first: the Route of requests to its contact. */
export function pathOf(request: SipRequest): string[] {
  return listValues(request.headers, 'path');
}

/** True when the registering UA said it supports Path (Supported: path). */
export function supportsPath(request: SipRequest): boolean {
  return headerValues(request.headers, 'supported').some((value) =>
    value.split(',').some((option) => option.trim().toLowerCase() === 'path'),
  );
}

/** The UAS's route set: the request's Record-Route values in their order (RFC 3261 §12.1.1). */
export function routeSetAsUas(request: SipRequest): string[] {
  return listValues(request.headers, 'record-route');
}

/** The UAC's route set: the response's Record-Route values in reverse order (RFC 3261 §12.1.2). */
export function routeSetAsUac(response: SipResponse): string[] {
  return listValues(response.headers, 'record-route').reverse();
}

/** Every value of a list header, whether sent as several headers or comma-separated in one. */
function listValues(headers: SipHeaderField[], name: string): string[] {
  return headerValues(headers, name).flatMap((value) => splitTopLevelCommas(value));
}
