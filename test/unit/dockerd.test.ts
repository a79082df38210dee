import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { startDockerd } from '../helpers/dockerd.js';
import { run, skipUnlessTools } from '../helpers/tools.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('private dockerd', { skip: skipUnlessTools('dockerd', 'docker', 'ctr') }, () => {
  it('starts, answers docker and ctr, and stops without a trace', async () => {
    const dockerd = await startDockerd();
    try {
      assert.match(dockerd.host, /^unix:\/\/\/tmp\/bd-/);
      const info = await run('docker', ['info', '--format', '{{.Driver}}'], { env: dockerd.env });
      assert.equal(info.stdout.trim(), 'vfs');
      const ctr = await run('ctr', ['--address', dockerd.containerdAddress, 'version']);
      assert.match(ctr.stdout, /Server:/);
      assert.ok(alive(dockerd.pid));
    } finally {
      await dockerd.stop();
    }
    assert.equal(alive(dockerd.pid), false, 'dockerd pid is gone');
    await assert.rejects(access(dockerd.dir), { code: 'ENOENT' });
    await dockerd.stop();
  });
});
