import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ts from 'typescript';

// The house rules of the suite (issue 10 §3): steps hand work to tasks and stay short, step
// files keep no helpers, and the World holds actors and concepts rather than every step's scratch.
const ROOT = resolve(__dirname, '../..');
const MAX_STEP_LINES = 25;
const MAX_STEP_FILE_LINES = 300;
const MAX_WORLD_FIELDS = 15;

function parse(path: string): ts.SourceFile {
  return ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
}

const stepFiles = readdirSync(join(ROOT, 'step-definitions'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => join(ROOT, 'step-definitions', f));

/** Every Given/When/Then of a file, with its length in lines. */
export function stepLengths(source: ts.SourceFile): Array<{ text: string; lines: number }> {
  const steps: Array<{ text: string; lines: number }> = [];
  for (const st of source.statements) {
    if (!ts.isExpressionStatement(st) || !ts.isCallExpression(st.expression)) continue;
    const callee = st.expression.expression;
    if (!ts.isIdentifier(callee) || !['Given', 'When', 'Then'].includes(callee.text)) continue;
    const fn = st.expression.arguments.at(-1);
    if (!fn || !(ts.isFunctionExpression(fn) || ts.isArrowFunction(fn))) continue;
    const start = source.getLineAndCharacterOfPosition(fn.body.getStart(source)).line;
    const end = source.getLineAndCharacterOfPosition(fn.body.getEnd()).line;
    steps.push({ text: st.expression.arguments[0].getText(source), lines: Math.max(1, end - start - 1) });
  }
  return steps;
}

test(`no step is longer than ${MAX_STEP_LINES} lines`, () => {
  const long = stepFiles.flatMap((f) =>
    stepLengths(parse(f))
      .filter((s) => s.lines > MAX_STEP_LINES)
      .map((s) => `${f}: ${s.text} (${s.lines} lines)`),
  );
  assert.deepEqual(long, []);
});

test(`no step file is longer than ${MAX_STEP_FILE_LINES} lines`, () => {
  const long = stepFiles
    .map((f) => ({ f, lines: readFileSync(f, 'utf8').split('\n').length }))
    .filter(({ lines }) => lines > MAX_STEP_FILE_LINES)
    .map(({ f, lines }) => `${f}: ${lines} lines`);
  assert.deepEqual(long, []);
});

test('step files keep no helper functions of their own: they live in tasks/', () => {
  const helpers = stepFiles.flatMap((f) =>
    parse(f)
      .statements.filter(
        (st) =>
          ts.isFunctionDeclaration(st) ||
          (ts.isVariableStatement(st) &&
            st.declarationList.declarations.some(
              (d) =>
                d.initializer &&
                (ts.isArrowFunction(d.initializer) || ts.isFunctionExpression(d.initializer)),
            )),
      )
      .map((st) => `${f}: ${st.getText().split('\n')[0]}`),
  );
  assert.deepEqual(helpers, []);
});

test(`the World declares at most ${MAX_WORLD_FIELDS} fields, private ones included`, () => {
  const source = parse(join(ROOT, 'world/world.ts'));
  const world = source.statements.find(
    (st): st is ts.ClassDeclaration => ts.isClassDeclaration(st) && st.name?.text === 'Phase2World',
  );
  assert.ok(world, 'class Phase2World in world/world.ts');
  const fields = world.members.filter(ts.isPropertyDeclaration).map((m) => m.name.getText(source));
  assert.ok(fields.length <= MAX_WORLD_FIELDS, `${fields.length} fields: ${fields.join(', ')}`);
});
