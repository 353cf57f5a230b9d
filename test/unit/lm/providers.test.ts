import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSession, describeProviders, PROVIDERS } from '../../../src/core/lm/providers';
import { gptModel } from '../../fixtures/lm/models';

describe('execution providers', () => {
  const bytes = gptModel().bytes;

  test('auto tries cuda, webgpu, cpu in order, stops at the first that works, and says why the others did not', async () => {
    const { session, report } = await createSession(bytes);
    const tried = report.attempts.map((a) => a.provider);
    assert.deepEqual(tried, PROVIDERS.slice(0, tried.length));
    assert.equal(report.attempts.at(-1)!.ok, true);
    assert.equal(report.attempts.at(-1)!.provider, report.provider);
    for (const failed of report.attempts.slice(0, -1)) {
      assert.equal(failed.ok, false);
      assert.ok(failed.reason.length > 10, `${failed.provider} gave no reason`);
    }
    const lines = describeProviders(report);
    assert.equal(lines.length, tried.length);
    assert.match(lines.at(-1)!, new RegExp(`^${report.provider}: used`));
    await session.release();
  });

  test('a forced provider is the only one tried; if it fails the error names it and its reason', async () => {
    const cpu = await createSession(bytes, {}, 'cpu');
    assert.deepEqual(cpu.report.attempts.map((a) => [a.provider, a.ok]), [['cpu', true]]);
    await cpu.session.release();
    try {
      const webgpu = await createSession(bytes, {}, 'webgpu');
      assert.equal(webgpu.report.provider, 'webgpu');
      await webgpu.session.release();
    } catch (err) {
      assert.match(String(err), /the forced provider 'webgpu' could not run the model \(webgpu: .+\)/);
    }
  });
});
