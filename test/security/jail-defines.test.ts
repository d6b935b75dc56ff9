/**
 * lab/kamailio.cfg's jail takes the platform's own settings (lab/kamailio.ts jailDefines): the
 * same threshold and ban, whole seconds where htable has nothing finer, and a refusal of values
 * the cfg could not carry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jailDefines } from '../../lab/kamailio';
import { EMBEDDED_SIP_FRAUD } from '../../platform/sip-edge/security';

test("Kamailio's jail gets the platform's threshold, failure window and ban period", () => {
  assert.deepEqual(
    jailDefines({ ...EMBEDDED_SIP_FRAUD, scannerUserAgents: ['friendly-scanner', 'sipcli'] }),
    {
      AUTH_FAILURES_BEFORE_BAN: String(EMBEDDED_SIP_FRAUD.authFailuresBeforeBan),
      BAN_MS: String(EMBEDDED_SIP_FRAUD.banMs),
      AUTHFAIL_TABLE: `"authfail=>size=8;autoexpire=${Math.ceil(EMBEDDED_SIP_FRAUD.failureWindowMs / 1000)};initval=0;"`,
      // Only reclaims memory: longer than the ban, which is compared in ms.
      AUTHBAN_TABLE: `"authban=>size=8;autoexpire=${Math.ceil(EMBEDDED_SIP_FRAUD.banMs / 1000) + 1};"`,
      SCANNER_UA: '"friendly-scanner|sipcli"',
    },
  );
});

test('a sub-second failure window still counts for a second; the ban keeps its milliseconds', () => {
  const defines = jailDefines({ ...EMBEDDED_SIP_FRAUD, failureWindowMs: 300, banMs: 1_500 });
  assert.match(defines.AUTHFAIL_TABLE ?? '', /autoexpire=1;/);
  assert.equal(defines.BAN_MS, '1500');
  assert.match(defines.AUTHBAN_TABLE ?? '', /autoexpire=3;/);
});

test('settings the cfg cannot carry are refused, naming them', () => {
  assert.throws(() => jailDefines({ ...EMBEDDED_SIP_FRAUD, banMs: 0 }), /banMs/);
  assert.throws(
    () => jailDefines({ ...EMBEDDED_SIP_FRAUD, authFailuresBeforeBan: 2.5 }),
    /authFailuresBeforeBan/,
  );
  assert.throws(
    () => jailDefines({ ...EMBEDDED_SIP_FRAUD, scannerUserAgents: ['evil"|.*'] }),
    /scanner User-Agents/,
  );
  assert.throws(() => jailDefines({ ...EMBEDDED_SIP_FRAUD, scannerUserAgents: [] }), /scanner User-Agents/);
});
