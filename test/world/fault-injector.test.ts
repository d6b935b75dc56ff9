import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CommandTemplateError,
  commandFor,
  runCommand,
  splitTemplate,
} from '../../world/faults/command-template';
import {
  FAULT_SEAM_MISSING,
  FaultCommand,
  FaultEndpoint,
  faultInjectorFor,
} from '../../world/faults/fault-injector';
import { traffic } from '../../world/traffic-log';

const node = process.execPath;

test('a template is split into words as a shell would, quotes kept together, nothing expanded', () => {
  assert.deepEqual(splitTemplate(`kubectl delete pod 'phase2 {role}' "a \\"b\\"" c\\ d  $`.slice(0, -1)), [
    'kubectl',
    'delete',
    'pod',
    'phase2 {role}',
    'a "b"',
    'c d',
  ]);
  assert.deepEqual(splitTemplate(`echo '$HOME;rm' x`), ['echo', '$HOME;rm', 'x']);
});

test('shell operators, unclosed quotes and an empty template are refused with a reason', () => {
  assert.throws(() => splitTemplate('docker kill x; rm -rf /'), /shell operator ';'.*script/);
  assert.throws(() => splitTemplate('echo $(id)'), /shell operator '\$'/);
  assert.throws(() => splitTemplate('echo | cat'), /'\|'/);
  assert.throws(() => splitTemplate("echo 'open"), /unclosed '/);
  assert.throws(() => splitTemplate('  '), /empty/);
});

test('placeholders are replaced inside words; unknown ones and unsafe values are refused', () => {
  assert.deepEqual(
    commandFor('docker kill --signal={action} phase2-{role}-{node}', {
      role: 'sip',
      node: 'a',
      action: 'crash',
    }),
    ['docker', 'kill', '--signal=crash', 'phase2-sip-a'],
  );
  assert.throws(
    () => commandFor('kill {pid}', { role: 'sip', node: 'a', action: 'crash' }),
    /placeholder \{pid\}/,
  );
  assert.throws(
    () => commandFor('kill {node}', { role: 'sip', node: 'a; rm -rf /', action: 'crash' }),
    (error: unknown) =>
      error instanceof CommandTemplateError && /node "a; rm -rf \/" is not a plain name/.test(error.message),
  );
});

test('a value with shell characters reaches the program as one argument, never a shell', async () => {
  const run = await runCommand(
    [node, '-e', 'console.log(JSON.stringify(process.argv.slice(1)))', 'a b', '$(id)'],
    5000,
  );
  assert.equal(run.exitCode, 0);
  assert.deepEqual(JSON.parse(run.stdout), ['a b', '$(id)']);
});

test('the exit code, output and failures to start or finish are recorded', async () => {
  const failed = await runCommand([node, '-e', 'console.error("no such node"); process.exit(3)'], 5000);
  assert.equal(failed.exitCode, 3);
  assert.match(failed.stderr, /no such node/);
  const missing = await runCommand(['/nonexistent/fault-tool'], 5000);
  assert.equal(missing.exitCode, null);
  assert.equal(missing.error, 'ENOENT');
  const slow = await runCommand([node, '-e', 'setTimeout(() => {}, 10000)'], 300);
  assert.match(slow.error ?? '', /did not finish within 300 ms/);
});

test('the command seam fails naming the command and its output, and reads the node it hit', async () => {
  const failing = new FaultCommand(
    `${node} -e "process.stderr.write('unit {role}-{node} not found'); process.exit(5)"`,
  );
  await assert.rejects(
    failing.crash('smsc', 'b'),
    /PHASE2_FAULT_COMMAND did not crash smsc node b:[\s\S]*exit code 5[\s\S]*unit smsc-b not found/,
  );
  const mark = traffic.mark();
  const working = new FaultCommand(
    // (no braces in the program: {…} is a placeholder in a template)
    `${node} -e "console.log('killed'); console.log(JSON.stringify(Object.fromEntries([['node', 'a'], ['pid', 42]])))" {action}`,
  );
  const fault = await working.crash('sip');
  assert.equal(fault.node, 'a');
  assert.equal(fault.pid, 42);
  assert.ok(fault.confirmedAt >= fault.requestedAt);
  const [event] = traffic.since(mark, 'FAULT');
  assert.equal(event?.summary, 'crash sip node a (pid 42)');
  assert.equal(await working.nodes(), undefined);
});

test('a broken template is refused when the seam is made, not at the first crash', () => {
  assert.throws(() => new FaultCommand('kill {pid}'), /placeholder \{pid\}/);
});

test('without a seam every fault fails with the message that says what to configure', async () => {
  const none = faultInjectorFor({}, 'key');
  await assert.rejects(none.crash('sip'), (error: Error) => error.message === FAULT_SEAM_MISSING);
  assert.match(FAULT_SEAM_MISSING, /PHASE2_FAULT_COMMAND/);
});

test('the endpoint seam posts the fault with the admin key and reads the nodes', async () => {
  const seen: Array<{ url?: string; key?: string; body: string }> = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      seen.push({ url: request.url, key: request.headers.apikey as string, body });
      response.setHeader('content-type', 'application/json');
      if (request.url === '/ops/v1/nodes')
        return response.end(
          JSON.stringify({ nodes: [{ role: 'sip', node: 'b', state: 'active', pid: 7, since: 'x' }] }),
        );
      const asked = JSON.parse(body) as { role: string };
      if (asked.role === 'dns') {
        response.statusCode = 404;
        return response.end(JSON.stringify({ title: 'No such role' }));
      }
      response.end(JSON.stringify({ ...asked, node: 'a', pid: 99, at: new Date().toISOString() }));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const seam = new FaultEndpoint(url, 'admin-key');
    const fault = await seam.hang('media');
    assert.deepEqual([fault.node, fault.pid, fault.action], ['a', 99, 'hang']);
    assert.deepEqual(JSON.parse(seen[0]?.body ?? ''), { role: 'media', node: 'active', action: 'hang' });
    assert.equal(seen[0]?.key, 'admin-key');
    assert.equal((await seam.nodes())[0]?.state, 'active');
    await assert.rejects(seam.crash('dns' as 'sip'), /did not crash the active dns node: it answered 404/);
  } finally {
    server.close();
  }
});
