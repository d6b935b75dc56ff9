/**
 * The preflight: one clear line per problem, naming the PHASE2_* variable, within seconds even when
 * ports are closed or hosts do not answer; only what the selected tags need; all ✔ against the
 * reference platform, which keeps no connector of it afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { missingFaultSeam } from '../../tools/preflight/checks/faults';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startPlatform, type RunningPlatform } from '../../platform';
import { embeddedDefaults } from '../../platform/config';
import type { PlatformEndpoints } from '../../support/config';
import {
  formatReport,
  preflight,
  selectCapabilities,
  selectedTags,
  tagsFromArgv,
  type PreflightInput,
} from '../../tools/preflight';
import { PlatformApi } from '../../world/http/api-client';

/** A TCP port nothing listens on (taken from the OS, then released). */
async function closedTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function closedUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function remote(endpoints: PlatformEndpoints): PreflightInput {
  return { target: 'remote', suiteHost: '127.0.0.1', remote: endpoints };
}

test('a wrong operator key and a closed SMPP port: one line each, naming the variable, within 5 s', async () => {
  // A gateway that is up but knows no such key: /health answers, everything else is 401.
  const gateway = http.createServer((request, response) => {
    const health = request.url === '/health';
    response.writeHead(health ? 200 : 401, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify(
        health ? { status: 'ok', version: 'test' } : { message: 'Invalid authentication credentials' },
      ),
    );
  });
  const apiPort = await listen(gateway);
  try {
    const smppPort = await closedTcpPort();
    const started = Date.now();
    const report = await preflight(
      remote({
        sip: {
          udp: { host: '127.0.0.1', port: await closedUdpPort() },
          ws: 'ws://127.0.0.1:9',
          domain: '127.0.0.1',
        },
        smpp: { host: '127.0.0.1', port: smppPort },
        apiUrl: `http://127.0.0.1:${apiPort}`,
        adminApiKey: 'wrong',
      }),
    );
    const elapsed = Date.now() - started;
    const text = formatReport(report);

    assert.equal(report.ok, false);
    assert.ok(elapsed < 5000, `preflight took ${elapsed} ms:\n${text}`);
    const problems = report.checks.flatMap((check) => (check.problem ? [check.problem] : []));
    assert.ok(
      problems.some((p) =>
        /^PHASE2_ADMIN_API_KEY is not accepted by the gateway \(401 Invalid authentication/.test(p),
      ),
      text,
    );
    assert.ok(
      problems.includes(
        `nothing listens on PHASE2_SMPP=127.0.0.1:${smppPort} (connection refused): start the SMSC there or correct PHASE2_SMPP`,
      ),
      text,
    );
    // What needs the key is not checked, and says why instead of repeating the problem.
    const carrier = report.checks.find((check) => check.name === 'carrier double bound');
    assert.equal(carrier?.problem, undefined);
    assert.match(carrier?.skipped ?? '', /operator key/);
    assert.match(text, /✖ operator key +PHASE2_ADMIN_API_KEY/);
    assert.match(text, /✖ SMPP port +nothing listens on PHASE2_SMPP=/);
    assert.match(text, /✔ API +GET http:\/\/127\.0\.0\.1:\d+\/health → 200/);
  } finally {
    await new Promise<void>((resolve) => gateway.close(() => resolve()));
  }
});

test('hosts that never answer are reported after the check bound, not after a scenario timeout', async () => {
  const held: http.ServerResponse[] = [];
  const silentGateway = http.createServer((_request, response) => void held.push(response));
  const apiPort = await listen(silentGateway);
  const silentSip = createSocket('udp4');
  await new Promise<void>((resolve) => silentSip.bind(0, '127.0.0.1', resolve));
  try {
    const started = Date.now();
    const report = await preflight(
      remote({
        sip: {
          udp: { host: '127.0.0.1', port: silentSip.address().port },
          ws: 'ws://127.0.0.1:9',
          domain: 'x',
        },
        smpp: { host: '127.0.0.1', port: await closedTcpPort() },
        apiUrl: `http://127.0.0.1:${apiPort}`,
        adminApiKey: 'any',
      }),
      { checkTimeoutMs: 500 },
    );
    const elapsed = Date.now() - started;
    const text = formatReport(report);
    const byName = new Map(report.checks.map((check) => [check.name, check]));
    assert.match(
      byName.get('API')?.problem ?? '',
      /^no answer from PHASE2_API_URL=http:\/\/127\.0\.0\.1:\d+ within 0\.5 s/,
    );
    assert.match(byName.get('operator key')?.skipped ?? '', /API does not answer/);
    assert.match(
      byName.get('SIP over UDP')?.problem ?? '',
      /no SIP response .* PHASE2_SIP_UDP=127\.0\.0\.1:\d+ within 0\.5 s/,
    );
    assert.ok(elapsed < 2000, `preflight took ${elapsed} ms:\n${text}`);
  } finally {
    silentSip.close();
    for (const response of held) response.destroy();
    silentGateway.closeAllConnections();
    await new Promise<void>((resolve) => silentGateway.close(() => resolve()));
  }
});

test('tags select what is checked: category tags map to SIP, SMPP and webhooks', () => {
  assert.deepEqual(selectCapabilities(undefined).capabilities, ['sip', 'smpp', 'webhooks']);
  const voice = selectCapabilities('@api-voice');
  assert.deepEqual(voice.capabilities, ['sip', 'webhooks']);
  assert.ok((voice.scenarios ?? 0) > 0);
  assert.deepEqual(selectCapabilities('@TEST-INT-020').capabilities, ['smpp', 'webhooks']);
  assert.deepEqual(selectCapabilities('@no-such-tag'), { capabilities: [], scenarios: 0 });
  assert.throws(() => selectCapabilities('@a and'), /could not be parsed/);
});

test('the tag expression comes from --tags/-t and --profile, ANDed as Cucumber does', () => {
  assert.equal(tagsFromArgv([]), undefined);
  assert.equal(tagsFromArgv(['--tags', '@smoke']), '@smoke');
  assert.equal(tagsFromArgv(['--tags=@a or @b', '-t', '@c']), '(@a or @b) and (@c)');
  assert.equal(tagsFromArgv(['--profile', 'smoke']), '@smoke and not @wip');
});

test("a parallel worker reads the run's tags from the coordinator's command line, not its own", () => {
  const worker = ['node', 'node_modules/@cucumber/cucumber/lib/runtime/parallel/run_worker.js'];
  const coordinator = ['node', 'cucumber-js', '--parallel', '2', '--tags', '@TEST-INT-020'];
  assert.equal(
    selectedTags(coordinator, {}, () => undefined),
    '@TEST-INT-020',
  );
  assert.equal(
    selectedTags(worker, { CUCUMBER_WORKER_ID: '1' }, () => coordinator),
    '@TEST-INT-020',
  );
  assert.equal(
    selectedTags(worker, { CUCUMBER_WORKER_ID: '1' }, () => undefined),
    undefined,
  );
});

test('the embedded target has nothing to check', async () => {
  const report = await preflight({ target: 'embedded', suiteHost: '127.0.0.1' });
  assert.equal(report.ok, true);
  assert.equal(
    formatReport(report),
    'Preflight: embedded target: the platform starts in-process; nothing to check.',
  );
});

test('a remote target without endpoints, or a bad tag expression, is a problem line, not a crash', async () => {
  const missing = await preflight({ target: 'remote', suiteHost: '127.0.0.1' });
  assert.equal(missing.ok, false);
  assert.match(missing.checks[0].problem ?? '', /PHASE2_\*/);
  const badTags = await preflight(
    remote({
      sip: { udp: { host: '127.0.0.1', port: 9 }, ws: 'ws://127.0.0.1:9', domain: 'x' },
      smpp: { host: '127.0.0.1', port: 9 },
      apiUrl: 'http://127.0.0.1:9',
      adminApiKey: 'any',
    }),
    { tags: '@a and' },
  );
  assert.deepEqual(
    badTags.checks.map((check) => check.name),
    ['tag expression'],
  );
  assert.match(badTags.checks[0].problem ?? '', /^cannot select scenarios with --tags "@a and"/);
});

// ---- against the reference platform -------------------------------------------------------------

let platform: RunningPlatform;
let adminApiKey: string;
let storeDir: string;

before(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'preflight-'));
  adminApiKey = `admin-${randomBytes(12).toString('hex')}`;
  platform = await startPlatform(
    embeddedDefaults({ storeFile: join(storeDir, 'platform.db'), adminApiKey }),
    () => undefined,
  );
});

after(async () => {
  await platform.stop();
  rmSync(storeDir, { recursive: true, force: true });
});

test('against the reference platform every check passes and nothing but the customer is left', async () => {
  const endpoints: PlatformEndpoints = { ...platform.endpoints, adminApiKey };
  // Every scenario that a remote target can run: the stubbed-provider ones need a seam (below),
  // the failover ones a fault seam (a single platform has no nodes to crash).
  const report = await preflight(remote(endpoints), { tags: 'not @stubbed-provider and not @failover' });
  const text = formatReport(report);
  assert.equal(report.ok, true, text);
  assert.deepEqual(
    report.checks.map((check) => [check.name, check.ok]),
    [
      ['API', true],
      ['operator key', true],
      ['request ids', true],
      ['preflight customer', true],
      ['SMPP port', true],
      ['SMPP bind', true],
      ['SIP over UDP', true],
      ['SIP over WebSocket', true],
      ['SIP registration', true],
      ['carrier double bound', true],
      ['webhook delivery', true],
    ],
    text,
  );
  assert.deepEqual(report.warnings, []);
  const operator = new PlatformApi({ baseUrl: endpoints.apiUrl, apiKey: adminApiKey, actor: 'operator' });
  const { items } = await operator.listConnectors();
  assert.deepEqual(
    items.filter((connector) => connector.id.startsWith('preflight-')),
    [],
    'the preflight removes its connector',
  );
});

test('scenarios that stub a provider fail the preflight of a target that declares no test provider', async () => {
  const endpoints: PlatformEndpoints = { ...platform.endpoints, adminApiKey };
  const report = await preflight(remote(endpoints), { tags: '@TEST-INT-003' });
  const check = report.checks.find((c) => c.name === 'test providers');
  assert.equal(report.ok, false);
  assert.match(check?.problem ?? '', /speech-to-text test provider.*declares none/);
  const declared = await preflight(
    remote({ ...endpoints, stubbedProviders: { speechToTextUrl: 'http://127.0.0.1:9/stt' } }),
    { tags: '@TEST-INT-003' },
  );
  assert.equal(declared.checks.find((c) => c.name === 'test providers')?.ok, true, formatReport(declared));
});

test('the preflight is held to the black-box rule: a tool importing the platform is refused', async () => {
  const { ESLint } = await import('eslint');
  const [result] = await new ESLint().lintText(
    "import { startPlatform } from '../../platform';\nexport const x = startPlatform;\n",
    { filePath: 'tools/preflight/leak.ts' },
  );
  const messages = result.messages.filter((m) => m.ruleId === 'no-restricted-imports');
  assert.equal(messages.length, 1);
  assert.match(messages[0].message, /Black box/);
});

test('selected @failover scenarios without a fault seam are announced, and the run is not stopped for them', async () => {
  assert.match(missingFaultSeam(5), /^5 @failover scenario\(s\) will FAIL: .*PHASE2_FAULT_COMMAND/);
  assert.match(missingFaultSeam('all'), /^the @failover scenarios will FAIL/);
  const endpoints: PlatformEndpoints = { ...platform.endpoints, adminApiKey };
  const report = await preflight(remote(endpoints), { tags: '@TEST-INT-043' });
  assert.equal(report.ok, true, formatReport(report));
  assert.match(
    report.warnings.join('\n'),
    /^\d+ @failover scenario\(s\) will FAIL: Failover scenarios need a way/,
  );
  // A fault endpoint is checked instead: here nothing answers at its address.
  const withSeam = await preflight(
    { ...remote(endpoints), faults: { url: 'http://127.0.0.1:9' } },
    { tags: '@TEST-INT-043', checkTimeoutMs: 1000 },
  );
  assert.deepEqual(withSeam.warnings, []);
  const seam = withSeam.checks.find((check) => check.name === 'fault seam');
  assert.match(seam?.problem ?? '', /nothing listens on PHASE2_FAULT_URL=http:\/\/127\.0\.0\.1:9/);
});
