/**
 * SIP: the proxy answers an OPTIONS over UDP, the WebSocket port speaks the "sip" subprotocol
 * (RFC 7118), and a SIP account just created through the API registers over UDP.
 */
import { sipDrivers } from '../drivers';
import { NotChecked, Problem, passed, type Passed } from '../outcome';
import { sipOptions, wsHandshake } from '../probes';
import type { PreflightRun, Step } from '../run';
import { networkProblem, seconds } from '../wording';
import type { Provisioned } from './api';

function sipUdpAt(run: PreflightRun): string {
  return `${run.endpoints.sip.udp.host}:${run.endpoints.sip.udp.port}`;
}

export async function checkSipUdp(run: PreflightRun): Promise<Passed> {
  const { udp, domain } = run.endpoints.sip;
  const statusLine = await run
    .within('SIP OPTIONS', (signal) => sipOptions(udp, domain, signal))
    .catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED')
        throw new Problem(
          `nothing listens for SIP on PHASE2_SIP_UDP=${sipUdpAt(run)} (ICMP port unreachable): start the SIP proxy there or correct PHASE2_SIP_UDP`,
        );
      if (code === 'ETIMEDOUT')
        throw new Problem(
          `no SIP response to an OPTIONS sent to PHASE2_SIP_UDP=${sipUdpAt(run)} within ${seconds(run.timeoutMs)} (nothing listening, or a firewall drops UDP): correct PHASE2_SIP_UDP or open UDP ${udp.port}`,
        );
      throw new Problem(`${networkProblem('PHASE2_SIP_UDP', sipUdpAt(run), error, run.timeoutMs)}`);
    });
  return passed(`OPTIONS → ${statusLine}`);
}

export async function checkSipWs(run: PreflightRun): Promise<Passed> {
  const url = run.endpoints.sip.ws;
  await run
    .within('WebSocket handshake', (signal) => wsHandshake(url, signal))
    .catch((error: unknown) => {
      const message = (error as Error).message;
      if (/subprotocol/i.test(message))
        throw new Problem(
          `PHASE2_SIP_WS=${url} answered the WebSocket handshake without the "sip" subprotocol (RFC 7118): is it the SIP WebSocket port?`,
        );
      if (/Unexpected server response/i.test(message))
        throw new Problem(
          `PHASE2_SIP_WS=${url} answered HTTP instead of a WebSocket upgrade (${message}): correct PHASE2_SIP_WS`,
        );
      throw new Problem(
        `${networkProblem('PHASE2_SIP_WS', url, error, run.timeoutMs)}: start SIP over WebSocket there or correct PHASE2_SIP_WS`,
      );
    });
  return passed(`WebSocket handshake with subprotocol "sip" at ${url}`);
}

export async function checkSipRegistration(
  run: PreflightRun,
  udp: Step<true>,
  customer: Step<Provisioned>,
): Promise<Passed> {
  await run.needs(udp);
  const { sip } = await run.needs(customer);
  if (!sip) throw new NotChecked('the preflight customer has no SIP account');
  const { domain } = run.endpoints.sip;
  const { SipPhone } = sipDrivers();
  const phone = new SipPhone({
    actor: 'preflight phone',
    username: sip.username,
    password: sip.password,
    domain,
    transport: 'udp',
    server: run.endpoints.sip.udp,
    registerExpiresSec: 60,
    requestTimeoutMs: run.backstopMs,
  });
  // stop() un-REGISTERs: the platform keeps no binding of the preflight.
  run.onCleanup('stop the preflight phone', () => phone.stop());
  try {
    await run.within('REGISTER', async () => {
      await phone.start();
      await phone.register();
    });
  } catch (error) {
    const message = (error as Error).message;
    const refused = /refused with (\d{3} [^(]*)/.exec(message);
    if (refused)
      throw new Problem(
        `the registrar at PHASE2_SIP_UDP=${sipUdpAt(run)} refused a SIP account just created through the API (${refused[1].trim()}): PHASE2_SIP_DOMAIN=${domain} must be the platform's SIP domain and digest realm`,
      );
    throw new Problem(
      `REGISTER of sip:${sip.username}@${domain} at PHASE2_SIP_UDP=${sipUdpAt(run)} failed: ${message.split('\n')[0]}`,
    );
  }
  return passed(
    `REGISTER sip:${sip.username}@${domain} accepted (un-REGISTERed again when the preflight ends)`,
  );
}
