import { config as loadDotenv } from 'dotenv';
import { CommandTemplateError, commandFor } from '../world/faults/command-template';
import type { NamedPeer } from '../world/traffic-log';

/**
 * Where the platform under test is and how the suite reaches it (DESIGN §2).
 * embedded: the reference platform, started in-process by the launcher.
 * remote:   any deployment, described by PHASE2_* environment variables or a .env file.
 * lab:      the reference platform in-process behind real Kamailio and real rtpengine (Debian
 *           packages, child processes of each worker): `npm run lab`.
 */
export type TargetName = 'embedded' | 'remote' | 'lab';

/** The targets whose platform this process starts itself (and whose providers nock can stub). */
export function startsItsOwnPlatform(target: TargetName): boolean {
  return target === 'embedded' || target === 'lab';
}

export interface HostPort {
  host: string;
  port: number;
}

export interface PlatformEndpoints {
  sip: { udp: HostPort; ws: string; domain: string };
  smpp: HostPort;
  apiUrl: string;
  adminApiKey: string;
  /**
   * Third-party providers the platform calls that the suite stubs with nock (embedded target
   * only: the platform runs in this process). Absent: the platform calls its real providers.
   */
  stubbedProviders?: { speechToTextUrl: string };
  /**
   * Who listens where, for the call-flow ladders: the lab target names its real peers
   * ("Kamailio", "rtpengine") by the addresses it started them on. Absent: drivers use their
   * default names ("platform SIP", "remote RTP").
   */
  topology?: NamedPeer[];
  /**
   * Every API gateway node's own base URL, when the target has several serving at once behind
   * its load balancer (the embedded target's gateway-nodes cluster). Scenarios tagged
   * @gateway-nodes need two; absent: they fail saying so.
   */
  apiNodeUrls?: string[];
}

export interface SuiteConfig {
  target: TargetName;
  /** Address the platform uses to reach the suite's doubles (carrier SMSC, PSTN, webhook receiver). */
  suiteHost: string;
  /** Upper bound for any single awaited event; failures name what was awaited. */
  waitMs: number;
  /** Faker seed: printed and attached so a run's data can be replayed. */
  fakerSeed: number;
  /** Remote endpoints (undefined for embedded, whose endpoints exist only once it has started). */
  remote?: PlatformEndpoints;
  /**
   * How @failover scenarios crash nodes of a deployment (FAULT_VARIABLES); the embedded target's
   * cluster brings its own. Neither set: those scenarios fail saying so (preflight warns first).
   */
  faults: { url?: string; command?: string };
}

/** The fault seam's variables (issue 11), for either target. */
export const FAULT_VARIABLES = {
  PHASE2_FAULT_URL:
    "base URL of a supervisor serving POST /ops/v1/faults and GET /ops/v1/nodes (the operator's API key is sent)",
  PHASE2_FAULT_COMMAND:
    "a command run without a shell for each fault, with {role} {node} {action} placeholders (e.g. 'docker kill --signal={action} phase2-{role}-{node}')",
} as const;

/** The remote target's variables, with what each means: the source of truth for docs and errors. */
export const REMOTE_VARIABLES = {
  PHASE2_SIP_UDP: 'SIP over UDP, host:port (e.g. 127.0.0.1:5060)',
  PHASE2_SIP_WS: 'SIP over WebSocket URL (e.g. ws://127.0.0.1:8080)',
  PHASE2_SIP_DOMAIN: 'SIP domain and digest realm (e.g. 127.0.0.1)',
  PHASE2_SMPP: 'SMPP for customer ESMEs, host:port (e.g. 127.0.0.1:2775)',
  PHASE2_API_URL: 'API base URL through the gateway (e.g. http://127.0.0.1:8000)',
  PHASE2_ADMIN_API_KEY: "the operator's API key (provisions customers and carrier connectors)",
} as const;

/**
 * The default bound on one awaited event. The lab target gets a little more than embedded: every
 * SIP message crosses Kamailio twice and media is relayed by another process, all sharing the
 * same small CI machine with the workers (a remote deployment adds a real network on top).
 */
const DEFAULT_WAIT_MS: Record<TargetName, number> = { embedded: 5_000, lab: 7_000, remote: 10_000 };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `The suite configuration has ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

function parseHostPort(name: string, value: string, problems: string[]): HostPort {
  const match = /^([^:\s]+):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) {
    problems.push(
      `${name}="${value}" is not host:port (${REMOTE_VARIABLES[name as keyof typeof REMOTE_VARIABLES]})`,
    );
    return { host: '', port: 0 };
  }
  return { host: match[1], port };
}

function parseUrl(name: string, value: string, protocols: string[], problems: string[]): string {
  try {
    const url = new URL(value);
    if (!protocols.includes(url.protocol)) throw new Error('protocol');
    return value.replace(/\/$/, '');
  } catch {
    problems.push(`${name}="${value}" is not a ${protocols.join(' or ')} URL`);
    return '';
  }
}

function positiveInt(name: string, raw: string | undefined, fallback: number, problems: string[]): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    problems.push(`${name}="${raw}" must be a positive whole number`);
    return fallback;
  }
  return value;
}

/** Reads and validates the configuration; throws ConfigError with one line per problem. */
export function loadSuiteConfig(env: NodeJS.ProcessEnv = process.env, dotenvPath = '.env'): SuiteConfig {
  // A .env file fills in what the environment leaves unset; the environment always wins.
  if (env === process.env) loadDotenv({ path: dotenvPath, quiet: true });

  const problems: string[] = [];
  const target = (env.PHASE2_TARGET ?? 'embedded') as TargetName;
  if (target !== 'embedded' && target !== 'remote' && target !== 'lab') {
    problems.push(`PHASE2_TARGET="${String(target)}" must be "embedded", "remote" or "lab"`);
  }
  const waitMs = positiveInt(
    'PHASE2_WAIT_MS',
    env.PHASE2_WAIT_MS,
    DEFAULT_WAIT_MS[target] ?? 5_000,
    problems,
  );
  const fakerSeed = positiveInt(
    'PHASE2_FAKER_SEED',
    env.PHASE2_FAKER_SEED,
    Math.floor(Math.random() * 1_000_000) + 1,
    problems,
  );
  const suiteHost = env.PHASE2_SUITE_HOST ?? '127.0.0.1';

  let remote: PlatformEndpoints | undefined;
  if (target === 'remote') {
    for (const name of Object.keys(REMOTE_VARIABLES)) {
      if (!env[name])
        problems.push(`${name} is not set: ${REMOTE_VARIABLES[name as keyof typeof REMOTE_VARIABLES]}`);
    }
    remote = {
      sip: {
        udp: env.PHASE2_SIP_UDP
          ? parseHostPort('PHASE2_SIP_UDP', env.PHASE2_SIP_UDP, problems)
          : { host: '', port: 0 },
        ws: env.PHASE2_SIP_WS ? parseUrl('PHASE2_SIP_WS', env.PHASE2_SIP_WS, ['ws:', 'wss:'], problems) : '',
        domain: env.PHASE2_SIP_DOMAIN ?? '',
      },
      smpp: env.PHASE2_SMPP ? parseHostPort('PHASE2_SMPP', env.PHASE2_SMPP, problems) : { host: '', port: 0 },
      apiUrl: env.PHASE2_API_URL
        ? parseUrl('PHASE2_API_URL', env.PHASE2_API_URL, ['http:', 'https:'], problems)
        : '',
      adminApiKey: env.PHASE2_ADMIN_API_KEY ?? '',
    };
    // Optional: the gateway nodes' own addresses, for the @gateway-nodes scenarios.
    if (env.PHASE2_API_NODE_URLS)
      remote.apiNodeUrls = env.PHASE2_API_NODE_URLS.split(',').map((url) =>
        parseUrl('PHASE2_API_NODE_URLS', url.trim(), ['http:', 'https:'], problems),
      );
  }
  const faults: SuiteConfig['faults'] = {};
  if (env.PHASE2_FAULT_URL)
    faults.url = parseUrl('PHASE2_FAULT_URL', env.PHASE2_FAULT_URL, ['http:', 'https:'], problems);
  if (env.PHASE2_FAULT_COMMAND) {
    try {
      commandFor(env.PHASE2_FAULT_COMMAND, { role: 'sip', node: 'a', action: 'crash' });
      faults.command = env.PHASE2_FAULT_COMMAND;
    } catch (error) {
      if (!(error instanceof CommandTemplateError)) throw error;
      problems.push(`PHASE2_FAULT_COMMAND: ${error.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { target, suiteHost, waitMs, fakerSeed, remote, faults };
}
