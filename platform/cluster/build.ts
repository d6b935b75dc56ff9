/**
 * Node processes start from plain JavaScript: ts-node needs about two seconds per process to load
 * the platform, and a redundant topology starts eight of them. The supervisor transpiles
 * platform/ once into `.build/` (each file only when its source is newer) and forks from there.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

const REPO_ROOT = join(__dirname, '..', '..');

/** Where the transpiled platform lives; the contract file is copied beside it (the gateway serves it). */
export const BUILD_ROOT = join(REPO_ROOT, '.build');

export function buildPlatform(): { entry: string; transpiled: number } {
  let transpiled = 0;
  const manifestFile = join(BUILD_ROOT, 'manifest.json');
  const manifest: Record<string, string> = existsSync(manifestFile)
    ? (JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, string>)
    : {};
  for (const source of typescriptFiles(join(REPO_ROOT, 'platform'))) {
    const name = relative(REPO_ROOT, source);
    const target = join(BUILD_ROOT, name).replace(/\.ts$/, '.js');
    const text = readFileSync(source, 'utf8');
    const hash = createHash('sha256').update(text).digest('hex');
    if (manifest[name] === hash && existsSync(target)) continue;
    const output = ts.transpileModule(text, {
      fileName: source,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        sourceMap: false,
      },
    });
    mkdirSync(dirname(target), { recursive: true });
    writeAtomically(target, output.outputText);
    manifest[name] = hash;
    transpiled += 1;
  }
  mkdirSync(BUILD_ROOT, { recursive: true });
  writeAtomically(manifestFile, JSON.stringify(manifest));
  const contract = join(REPO_ROOT, 'contracts', 'platform-api.yaml');
  mkdirSync(join(BUILD_ROOT, 'contracts'), { recursive: true });
  const copied = join(BUILD_ROOT, 'contracts', `platform-api.yaml.${process.pid}.tmp`);
  copyFileSync(contract, copied);
  renameSync(copied, join(BUILD_ROOT, 'contracts', 'platform-api.yaml'));
  return { entry: join(BUILD_ROOT, 'platform', 'cluster', 'node-main.js'), transpiled };
}

/** Two Cucumber workers may build at once: a reader sees the old file or the new one, never half of one. */
function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

function typescriptFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...typescriptFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}
