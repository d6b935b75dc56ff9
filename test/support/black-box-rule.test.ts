import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

// The black-box rule (DESIGN §3) is only worth having if it fires: lint snippets as if they
// lived at the paths that matter, using the project's own eslint.config.mjs.
const eslint = new ESLint();

async function restrictedImports(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('a step definition importing the platform is refused', async () => {
  const messages = await restrictedImports(
    "import { startPlatform } from '../platform';\nexport const x = startPlatform;\n",
    'step-definitions/leak.steps.ts',
  );
  assert.equal(messages.length, 1);
  assert.match(messages[0], /Black box/);
});

test('a driver importing a platform role is refused', async () => {
  const messages = await restrictedImports(
    "import { startSmsc } from '../../platform/smsc';\nexport const x = startSmsc;\n",
    'world/smpp/leak.ts',
  );
  assert.equal(messages.length, 1);
});

test('a task or a reporting module importing the platform is refused', async () => {
  for (const filePath of ['tasks/leak.ts', 'reporting/leak.ts']) {
    const messages = await restrictedImports(
      "import { startPlatform } from '../platform';\nexport const x = startPlatform;\n",
      filePath,
    );
    assert.equal(messages.length, 1, filePath);
  }
});

test('the platform importing the suite is refused', async () => {
  const messages = await restrictedImports(
    "import { traffic } from '../../world/traffic-log';\nexport const x = traffic;\n",
    'platform/core/leak.ts',
  );
  assert.equal(messages.length, 1);
  assert.match(messages[0], /system under test/);
});

test('the embedded launcher may import the platform', async () => {
  const messages = await restrictedImports(
    "import { startPlatform } from '../platform';\nexport const x = startPlatform;\n",
    'support/embedded-platform.ts',
  );
  assert.deepEqual(messages, []);
});
