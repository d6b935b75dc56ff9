import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shard, shardSource, unitTestFiles } from '../../scripts/unit';

test('files are dealt heaviest first onto the lightest shard; every file lands exactly once', () => {
  const files = [
    { file: 'a.test.ts', weight: 10 },
    { file: 'b.test.ts', weight: 7 },
    { file: 'c.test.ts', weight: 5 },
    { file: 'd.test.ts', weight: 4 },
    { file: 'e.test.ts', weight: 1 },
  ];
  assert.deepEqual(shard(files, 2), [
    ['a.test.ts', 'd.test.ts'],
    ['b.test.ts', 'c.test.ts', 'e.test.ts'],
  ]);
  assert.deepEqual(shard(files.slice(0, 1), 3), [['a.test.ts']]);
  assert.deepEqual(shard([], 2), []);
});

test('a shard loads each file inside a suite named after it, so its hooks stay its own', () => {
  const source = shardSource(['test/x/one.test.ts', 'test/two.test.ts']);
  assert.match(source, /const \{ describe \} = require\('node:test'\);/);
  assert.ok(
    source.includes(
      `describe("test/x/one.test.ts", () => { require(${JSON.stringify(resolve('test/x/one.test.ts'))}); });`,
    ),
  );
  assert.equal(source.match(/describe\(/g)?.length, 2);
});

test('unit runs leave out test/lab/ (real Kamailio and rtpengine: the lab lane runs those)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unit-files-'));
  for (const file of [
    'lab/rtpengine.test.ts',
    'media-relay/relay.test.ts',
    'labels/x.test.ts',
    'top.test.ts',
  ]) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), '');
  }
  assert.deepEqual(unitTestFiles(dir), [
    join(dir, 'labels/x.test.ts'),
    join(dir, 'media-relay/relay.test.ts'),
    join(dir, 'top.test.ts'),
  ]);
});
