import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// The suite's layers (world → tasks → steps, reporting and support beside them) only stay
// readable while no module reaches back into one that imports it, type imports included.
const ROOTS = ['world', 'tasks', 'support', 'reporting', 'step-definitions'];
const ROOT = resolve(__dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import\(|require\()\s*'(\.[^']+)'/g)].map((m) => m[1]);
  return specifiers
    .map((s) => resolve(dirname(file), s))
    .flatMap((base) => [`${base}.ts`, join(base, 'index.ts')].filter((p) => existsSync(p)).slice(0, 1));
}

/** One cycle per strongly connected file group found by depth-first search, as a readable path. */
export function findLoops(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, localImports(f)]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const loops: string[][] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') loops.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next) && graph.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return loops;
}

test('no import loops in the suite', () => {
  const files = ROOTS.map((r) => join(ROOT, r))
    .filter((d) => existsSync(d))
    .flatMap(sources);
  assert.ok(files.length > 30, `found only ${files.length} suite files`);
  const loops = findLoops(files).map((loop) => loop.map((f) => relative(ROOT, f)).join(' → '));
  assert.deepEqual(loops, [], `import loops:\n${loops.join('\n')}`);
});

test('a loop through a type import is found', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'loops-'));
  writeFileSync(join(dir, 'a.ts'), "import type { B } from './b';\nexport type A = B;\n");
  writeFileSync(join(dir, 'b.ts'), "import { a } from './a';\nexport type B = typeof a;\n");
  assert.equal(findLoops([join(dir, 'a.ts'), join(dir, 'b.ts')]).length, 1);
});
