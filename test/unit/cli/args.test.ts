import { test } from 'node:test';
import assert from 'node:assert/strict';
import { policyOption } from '../../../src/cli/args';

test('--policy and --temperature become an answer policy, or an error that names the option', () => {
  assert.equal(policyOption(undefined, undefined), undefined);
  assert.deepEqual(policyOption('argmax', undefined), { kind: 'argmax' });
  assert.deepEqual(policyOption('sample', undefined), { kind: 'sample', temperature: 1 });
  assert.deepEqual(policyOption(undefined, '0.5'), { kind: 'sample', temperature: 0.5 });
  assert.throws(() => policyOption('greedy', undefined), /--policy.*greedy/s);
  assert.throws(() => policyOption('argmax', '2'), /--temperature/);
  assert.throws(() => policyOption('sample', '0'), /--temperature/);
});
