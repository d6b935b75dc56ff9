import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planLabRun } from '../../scripts/lab';

test('with no options the lab run takes every @lab scenario and the real-binary tests first', () => {
  assert.deepEqual(planLabRun([]), { cucumberArgs: ['--tags', '@lab'], runRealBinaryTests: true });
});

test("the user's tag expressions are all required, together with @lab, in one expression", () => {
  const plan = planLabRun(['--tags', '@TEST-INT-010', '-t', 'not @slow', '--tags=@smoke or @week2']);
  assert.deepEqual(plan.cucumberArgs, [
    '--tags',
    '@lab and (@TEST-INT-010) and (not @slow) and (@smoke or @week2)',
  ]);
  assert.equal(plan.runRealBinaryTests, false, 'a run picked by tags is focused on its scenarios');
});

test('every other option passes through in order, with its value', () => {
  const plan = planLabRun(['--parallel', '2', '--profile', 'ci', '--format', 'json:out.json', '--fail-fast']);
  assert.deepEqual(plan.cucumberArgs, [
    '--parallel',
    '2',
    '--profile',
    'ci',
    '--format',
    'json:out.json',
    '--fail-fast',
    '--tags',
    '@lab',
  ]);
  assert.equal(plan.runRealBinaryTests, true, 'workers and formats pick no scenarios');
});

test('a feature path, a name filter or a dry run is a focused run', () => {
  assert.equal(planLabRun(['features/api-voice/']).runRealBinaryTests, false);
  assert.equal(planLabRun(['--name', 'busy']).runRealBinaryTests, false);
  assert.equal(planLabRun(['--dry-run']).runRealBinaryTests, false);
  assert.deepEqual(planLabRun(['--name', 'busy']).cucumberArgs, ['--name', 'busy', '--tags', '@lab']);
});

test('--tags without an expression is refused', () => {
  assert.throws(() => planLabRun(['--tags']), /--tags needs a tag expression/);
});
