import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadSuiteConfig } from '../../support/config';

const remote = {
  PHASE2_TARGET: 'remote',
  PHASE2_SIP_UDP: '127.0.0.1:5060',
  PHASE2_SIP_WS: 'ws://127.0.0.1:8080',
  PHASE2_SIP_DOMAIN: '127.0.0.1',
  PHASE2_SMPP: '127.0.0.1:2775',
  PHASE2_API_URL: 'http://127.0.0.1:8000/',
  PHASE2_ADMIN_API_KEY: 'k',
};

test('embedded is the default target and needs no variables', () => {
  const config = loadSuiteConfig({});
  assert.equal(config.target, 'embedded');
  assert.equal(config.remote, undefined);
  assert.equal(config.suiteHost, '127.0.0.1');
});

test('a complete remote description is parsed into endpoints', () => {
  const config = loadSuiteConfig({ ...remote, PHASE2_FAKER_SEED: '42' });
  assert.deepEqual(config.remote?.sip.udp, { host: '127.0.0.1', port: 5060 });
  assert.equal(config.remote?.apiUrl, 'http://127.0.0.1:8000', 'trailing slash removed');
  assert.equal(config.fakerSeed, 42);
});

test('every missing or malformed remote value is reported on its own line', () => {
  const env: NodeJS.ProcessEnv = {
    ...remote,
    PHASE2_SMPP: 'nohost',
    PHASE2_API_URL: 'ftp://x',
    PHASE2_WAIT_MS: '-1',
  };
  delete env.PHASE2_ADMIN_API_KEY;
  assert.throws(
    () => loadSuiteConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 4, error.message);
      assert.match(error.message, /PHASE2_ADMIN_API_KEY is not set/);
      assert.match(error.message, /PHASE2_SMPP="nohost" is not host:port/);
      assert.match(error.message, /PHASE2_API_URL="ftp:\/\/x" is not a http: or https: URL/);
      assert.match(error.message, /PHASE2_WAIT_MS="-1" must be a positive whole number/);
      return true;
    },
  );
});

test('an unknown target is refused', () => {
  assert.throws(
    () => loadSuiteConfig({ PHASE2_TARGET: 'staging' }),
    /PHASE2_TARGET="staging" must be "embedded", "remote" or "lab"/,
  );
});

test('the fault seam variables are read for either target, and a broken command template is a problem', () => {
  assert.deepEqual(loadSuiteConfig({}).faults, {});
  const config = loadSuiteConfig({
    PHASE2_FAULT_URL: 'http://127.0.0.1:9000/',
    PHASE2_FAULT_COMMAND: 'docker kill --signal={action} phase2-{role}-{node}',
  });
  assert.deepEqual(config.faults, {
    url: 'http://127.0.0.1:9000',
    command: 'docker kill --signal={action} phase2-{role}-{node}',
  });
  assert.throws(
    () => loadSuiteConfig({ PHASE2_FAULT_COMMAND: 'docker kill {container}; echo done' }),
    (error: unknown) =>
      error instanceof ConfigError && /PHASE2_FAULT_COMMAND: .*shell operator ';'/.test(error.message),
  );
});

test('the lab target needs no variables and waits a little longer than embedded', () => {
  const lab = loadSuiteConfig({ PHASE2_TARGET: 'lab' });
  assert.equal(lab.target, 'lab');
  assert.equal(lab.remote, undefined, 'its endpoints exist only once its peers have started');
  assert.ok(lab.waitMs > loadSuiteConfig({}).waitMs, `lab waits ${lab.waitMs} ms`);
  assert.equal(loadSuiteConfig({ PHASE2_TARGET: 'lab', PHASE2_WAIT_MS: '4000' }).waitMs, 4000);
});
