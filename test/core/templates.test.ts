import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTemplate, templateVariables } from '../../platform/core/templates';

test('variables are listed once, in order of first use, spaces inside braces allowed', () => {
  assert.deepEqual(templateVariables('Hi {{name}}, {{ parcel }} for {{name}} on {{day_1}}'), [
    'name',
    'parcel',
    'day_1',
  ]);
  assert.deepEqual(templateVariables('no placeholders {here} or {{9bad}}'), []);
});

test('rendering inserts values verbatim and names what is missing', () => {
  assert.deepEqual(renderTemplate('Hi {{name}}, {{parcel}}', { name: 'Zoë', parcel: '{{x}} & $1' }), {
    text: 'Hi Zoë, {{x}} & $1',
    missing: [],
  });
  assert.deepEqual(renderTemplate('{{a}} and {{b}}', { a: '1' }), { text: '1 and {{b}}', missing: ['b'] });
});
