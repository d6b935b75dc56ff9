import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanForSecrets } from '../../scripts/secret-scan';

test('finds every secret in nested report files, names the file, never prints the whole secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secret-scan-'));
  try {
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    writeFileSync(join(dir, 'a', 'b', 'x-attachment.txt'), 'apikey: key_0123456789abcdef\n');
    writeFileSync(join(dir, 'clean.json'), '{"apikey":"***"}');
    const findings = scanForSecrets(
      ['key_0123456789abcdef', 'whsec_unused', '***', 'abc'],
      [dir, join(dir, 'missing')],
    );
    assert.deepEqual(findings, [{ file: join(dir, 'a', 'b', 'x-attachment.txt'), hint: 'key_…' }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
