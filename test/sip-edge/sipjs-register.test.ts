/**
 * Interoperability: sip.js 0.21 (the suite's phone library) registers over the edge's WebSocket
 * listener with digest auth, using sip.js's own WebSocket transport on top of the `ws` package.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Registerer, RegistererState, UserAgent } from 'sip.js';
import { ACCOUNTS, startTestEdge } from './harness';

test('sip.js registers over WS with digest auth and un-registers', async () => {
  const globals = globalThis as { WebSocket?: unknown };
  const previous = globals.WebSocket;
  globals.WebSocket = WebSocket; // sip.js's transport expects the browser global (FACTS §3)
  const t = await startTestEdge();
  const domain = t.config.sip.domain;
  const ua = new UserAgent({
    uri: UserAgent.makeURI(`sip:${ACCOUNTS.alice.username}@${domain}`),
    transportOptions: { server: t.edge.endpoints.ws },
    authorizationUsername: ACCOUNTS.alice.username,
    authorizationPassword: ACCOUNTS.alice.password,
    logBuiltinEnabled: false,
  });
  try {
    await ua.start();
    const registerer = new Registerer(ua, { expires: 120 });
    const states: string[] = [];
    const reached = (state: RegistererState): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `sip.js never reached ${state}; states seen: ${states.join(', ')}; edge log:\n${t.logs.slice(-10).join('\n')}`,
              ),
            ),
          2000,
        );
        registerer.stateChange.addListener((s) => {
          states.push(s);
          if (s === state) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    const registered = reached(RegistererState.Registered);
    await registerer.register();
    await registered;
    assert.equal(t.edge.registrations('alice')[0]?.transport, 'WS');
    const unregistered = reached(RegistererState.Unregistered);
    await registerer.unregister();
    await unregistered;
    assert.deepEqual(t.edge.registrations('alice'), []);
  } finally {
    await ua.stop();
    await t.stop();
    globals.WebSocket = previous;
  }
});
