/**
 * `npm run import-cycles`: lists every import loop among the repository's own .ts files and exits
 * non-zero when there is one. Type-only imports count: a loop of types still ties two modules into
 * one unit that cannot be understood, moved or tested apart (issue 10: "no import loops").
 *
 * Every relative specifier counts: static imports and re-exports, `import()` and `typeof import()`
 * in types, and `require()` (the preflight's lazily loaded drivers). Packages are not followed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** Folders that hold no source of ours. */
const SKIPPED = new Set(['node_modules', 'reports', 'allure-results', 'allure-report', 'coverage']);

/** Repository-relative paths (with '/') of every .ts file under `root`. */
export function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || SKIPPED.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
        files.push(path);
    }
  };
  walk(root);
  return files.map((file) => relative(root, file).split(sep).join('/')).sort();
}

/** The relative module specifiers a TypeScript source mentions (imports, re-exports, import(), require()). */
export function relativeSpecifiers(source: string): string[] {
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((file) => file.fileName).filter((name) => name.startsWith('.'));
}

/** The file a relative specifier names, as a repository-relative path, or undefined (not one of ours). */
export function resolveSpecifier(root: string, fromFile: string, specifier: string): string | undefined {
  const base = resolve(root, dirname(fromFile), specifier);
  const candidates = [
    base,
    `${base}.ts`,
    join(base, 'index.ts'),
    // `./x.js` written for nodenext resolution names x.ts.
    base.replace(/\.js$/, '.ts'),
  ];
  for (const candidate of candidates) {
    if (candidate.endsWith('.ts') && existsSync(candidate) && statSync(candidate).isFile())
      return relative(root, candidate).split(sep).join('/');
  }
  return undefined;
}

export type ImportGraph = Map<string, Set<string>>;

export function importGraph(root: string, files = sourceFiles(root)): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const targets = new Set<string>();
    for (const specifier of relativeSpecifiers(readFileSync(join(root, file), 'utf8'))) {
      const target = resolveSpecifier(root, file, specifier);
      if (target !== undefined) targets.add(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/**
 * The import loops of a graph: one per strongly connected component that has a loop (Tarjan),
 * each as its shortest cycle through the component's first file (sorted), closed by repeating
 * that file. A component can hold more loops; fixing the one shown makes the next one show.
 */
export function findCycles(graph: ImportGraph): Array<{ cycle: string[]; members: string[] }> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);

  const loops: Array<{ cycle: string[]; members: string[] }> = [];
  for (const members of components) {
    const start = members[0];
    const selfLoop = graph.get(start)?.has(start) ?? false;
    if (members.length === 1 && !selfLoop) continue;
    loops.push({ cycle: shortestCycle(graph, start, new Set(members)), members });
  }
  return loops.sort((a, b) => a.members[0].localeCompare(b.members[0]));
}

/** Breadth-first from `start` inside its component back to `start`. */
function shortestCycle(graph: ImportGraph, start: string, within: Set<string>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (!within.has(next)) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0])!);
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start, start]; // unreachable for a component with a loop
}

export function formatCycles(loops: ReturnType<typeof findCycles>): string {
  if (loops.length === 0) return 'import-cycles: no import loop among the .ts files';
  const lines = [`import-cycles: ${loops.length} import loop(s):`];
  for (const { cycle, members } of loops) {
    lines.push(`  ${cycle.join(' → ')}`);
    if (members.length > cycle.length - 1)
      lines.push(`    (${members.length} files tied together: ${members.join(', ')})`);
  }
  lines.push('Break each loop: move the shared type or helper to a module both can import.');
  return lines.join('\n');
}

if (require.main === module) {
  const loops = findCycles(importGraph(process.cwd()));
  console.log(formatCycles(loops));
  process.exitCode = loops.length === 0 ? 0 : 1;
}
