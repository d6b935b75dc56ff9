import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  findCycles,
  formatCycles,
  importGraph,
  relativeSpecifiers,
  type ImportGraph,
} from '../../scripts/import-cycles';

function repo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'import-cycles-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, dirname(path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function graphOf(edges: Record<string, string[]>): ImportGraph {
  return new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]));
}

test('every kind of relative import counts; packages do not', () => {
  const source = [
    "import { a } from './a';",
    "import type { B } from '../b';",
    "export * from './c';",
    "import got from 'got';",
    "const d = require('./d') as typeof import('./e');",
    "void import('./f');",
  ].join('\n');
  assert.deepEqual(relativeSpecifiers(source).sort(), ['../b', './a', './c', './d', './e', './f']);
});

test('a loop through a type-only import and an index file is found, with every file tied into it', () => {
  const root = repo({
    'support/audio.ts': "import { attach } from './evidence';\nexport type Snap = 1;",
    'support/evidence.ts': "import type { World } from '../world';\nexport const attach = 1;",
    'world/index.ts': "import type { Snap } from '../support/audio';\nexport type World = Snap;",
    'tools/ok.ts': "import { attach } from '../support/evidence';",
    'node_modules/x/loop.ts': "import './loop';",
  });
  try {
    const loops = findCycles(importGraph(root));
    assert.deepEqual(loops, [
      {
        cycle: ['support/audio.ts', 'support/evidence.ts', 'world/index.ts', 'support/audio.ts'],
        members: ['support/audio.ts', 'support/evidence.ts', 'world/index.ts'],
      },
    ]);
    assert.match(formatCycles(loops), /1 import loop\(s\):\n {2}support\/audio\.ts → support\/evidence\.ts/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the shortest loop of a component is shown, the component named; a self-import is a loop', () => {
  const loops = findCycles(
    graphOf({
      'a.ts': ['b.ts', 'c.ts'],
      'b.ts': ['c.ts'],
      'c.ts': ['a.ts'],
      'd.ts': ['d.ts'],
      'e.ts': ['a.ts'],
    }),
  );
  assert.deepEqual(loops, [
    { cycle: ['a.ts', 'c.ts', 'a.ts'], members: ['a.ts', 'b.ts', 'c.ts'] },
    { cycle: ['d.ts', 'd.ts'], members: ['d.ts'] },
  ]);
  assert.match(formatCycles(loops), /3 files tied together: a\.ts, b\.ts, c\.ts/);
});

test('a graph without loops passes', () => {
  const loops = findCycles(graphOf({ 'a.ts': ['b.ts'], 'b.ts': ['c.ts'], 'c.ts': [] }));
  assert.deepEqual(loops, []);
  assert.equal(formatCycles(loops), 'import-cycles: no import loop among the .ts files');
});
