import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { makeImage, makeLayer, makeTar, MediaTypes, sha256 } from '../helpers/fixtures.js';
import { REF_NAME, writeArtifactLayout, writeImageLayout, writeMultiArchLayout } from '../helpers/oci-layout.js';
import { startDockerd } from '../helpers/dockerd.js';
import { run, skipUnlessTools } from '../helpers/tools.js';

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

interface Manifest {
  config: { digest: string; size: number; mediaType: string };
  layers: { digest: string; size: number; mediaType: string }[];
}

describe('oci layout fixtures', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-layout-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('names every blob by the sha256 of its content', async () => {
    const dir = join(root, 'hashes');
    const img = await writeImageLayout(dir, {
      layers: [{ files: { 'etc/motd': 'hi\n', 'bin/': '' } }, { randomBytes: 3 << 20, seed: 7 }, { files: { a: 'x' }, gzip: false }],
    });
    const blobs = await readdir(join(dir, 'blobs', 'sha256'));
    assert.equal(blobs.length, 5, 'three layers, config and manifest, no temp files left');
    for (const name of blobs) assert.equal(await hashFile(join(dir, 'blobs', 'sha256', name)), `sha256:${name}`);

    const index = await readJson<{ manifests: { digest: string; annotations: Record<string, string> }[] }>(join(dir, 'index.json'));
    assert.equal(index.manifests[0]?.digest, img.manifestDigest);
    assert.equal(index.manifests[0]?.annotations[REF_NAME], 'latest');
    const manifest = await readJson<Manifest>(join(dir, 'blobs', 'sha256', img.manifestDigest.slice(7)));
    assert.deepEqual(manifest.layers.map((l) => l.digest), img.layerDigests);
    assert.deepEqual(
      manifest.layers.map((l) => l.mediaType),
      [MediaTypes.ociLayerGzip, MediaTypes.ociLayerGzip, MediaTypes.ociLayer],
    );
    for (const l of [manifest.config, ...manifest.layers]) {
      assert.equal((await stat(join(dir, 'blobs', 'sha256', l.digest.slice(7)))).size, l.size);
    }

    const config = await readJson<{ rootfs: { diff_ids: string[] } }>(join(dir, 'blobs', 'sha256', img.configDigest.slice(7)));
    const first = await readFile(join(dir, 'blobs', 'sha256', img.layerDigests[0]!.slice(7)));
    assert.equal(config.rootfs.diff_ids[0], sha256(gunzipSync(first)));
    assert.equal(config.rootfs.diff_ids[2], img.layerDigests[2], 'uncompressed layer: diff_id is its digest');
  });

  it('is deterministic for seeded content and keeps other refs', async () => {
    const a = await writeImageLayout(join(root, 'det-a'), { layers: [{ randomBytes: 100_000, seed: 1 }] });
    const b = await writeImageLayout(join(root, 'det-b'), { layers: [{ randomBytes: 100_000, seed: 1 }] });
    const c = await writeImageLayout(join(root, 'det-b'), { ref: 'other', layers: [{ randomBytes: 100_000 }] });
    assert.equal(a.manifestDigest, b.manifestDigest);
    assert.notEqual(b.manifestDigest, c.manifestDigest);
    const index = await readJson<{ manifests: unknown[] }>(join(root, 'det-b', 'index.json'));
    assert.equal(index.manifests.length, 2);
  });

  it('builds in-memory images whose config matches their layers', () => {
    const oci = makeImage();
    const docker = makeImage({ mediaType: 'docker', layers: [makeLayer({ x: '1' }), Buffer.from('not a tar')] });
    assert.equal(oci.manifestMediaType, MediaTypes.ociManifest);
    assert.equal(oci.manifestDigest, sha256(oci.manifest));
    const m = JSON.parse(docker.manifest.toString()) as Manifest;
    assert.equal(m.config.mediaType, MediaTypes.dockerConfig);
    assert.deepEqual(m.layers.map((l) => l.mediaType), [MediaTypes.dockerLayerGzip, MediaTypes.dockerLayer]);
    assert.deepEqual(m.layers.map((l) => l.digest), docker.layerDigests);
    assert.equal(m.config.digest, docker.configDigest);
  });

  describe('tar writer', { skip: skipUnlessTools('tar') }, () => {
    it('is listed and extracted by GNU tar', async () => {
      const long = `${'d'.repeat(80)}/${'e'.repeat(60)}/file.txt`;
      const path = join(root, 'layer.tar.gz');
      await writeFile(path, makeLayer({ 'usr/bin/tool': 'x'.repeat(513), 'empty/': '', [long]: 'deep\n' }));
      const { stdout } = await run('tar', ['-tzvf', path]);
      const names = stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(5).join(' '));
      assert.deepEqual(names, [
        `${'d'.repeat(80)}/`,
        `${'d'.repeat(80)}/${'e'.repeat(60)}/`,
        long,
        'empty/',
        'usr/',
        'usr/bin/',
        'usr/bin/tool',
      ]);
      assert.match(stdout, /^-rw-r--r-- root\/root\s+513 1970-01-01 00:00 usr\/bin\/tool$/m);
      assert.match(stdout, /^drwxr-xr-x root\/root\s+0 1970-01-01 00:00 empty\/$/m);
      const out = join(root, 'extract');
      await mkdir(out);
      await run('tar', ['-xzf', path, '-C', out]);
      assert.equal(await readFile(join(out, long), 'utf8'), 'deep\n');
      assert.equal(makeTar({ a: 'b' }).length % 512, 0);
    });
  });

  describe('skopeo', { skip: skipUnlessTools('skopeo') }, () => {
    it('inspects a single-arch layout and copies it to docker-archive', async () => {
      const dir = join(root, 'skopeo');
      const img = await writeImageLayout(dir, { layers: [{ files: { 'hello.txt': 'hello\n' } }, { randomBytes: 1 << 20, seed: 2 }] });
      const info = JSON.parse((await run('skopeo', ['inspect', `oci:${dir}:latest`])).stdout) as {
        Digest: string;
        Architecture: string;
        Os: string;
        Layers: string[];
      };
      assert.equal(info.Digest, img.manifestDigest);
      assert.equal(info.Architecture, 'amd64');
      assert.equal(info.Os, 'linux');
      assert.deepEqual(info.Layers, img.layerDigests);
      // docker-archive stores uncompressed layers, so this checks every diff_id
      await run('skopeo', ['copy', '--quiet', `oci:${dir}:latest`, `docker-archive:${join(root, 'img.tar')}:berth/test:latest`]);
      assert.ok((await stat(join(root, 'img.tar'))).size > 1 << 20);
    });

    it('inspects a multi-arch index and each platform', async () => {
      const dir = join(root, 'multi');
      const multi = await writeMultiArchLayout(dir, {
        platforms: [
          { arch: 'amd64', layers: [{ files: { arch: 'amd64\n' } }] },
          { arch: 'arm64', variant: 'v8', layers: [{ files: { arch: 'arm64\n' } }] },
        ],
      });
      const raw = (await run('skopeo', ['inspect', '--raw', `oci:${dir}:latest`])).stdout;
      assert.equal(sha256(raw), multi.indexDigest);
      const index = JSON.parse(raw) as { mediaType: string; manifests: { digest: string; platform: { architecture: string } }[] };
      assert.equal(index.mediaType, MediaTypes.ociIndex);
      assert.deepEqual(index.manifests.map((m) => m.digest), multi.manifestDigests);
      for (const child of multi.children) {
        const arch = ['--override-arch', child.platform.architecture];
        // skopeo reports the index digest as Digest, so identify the child by its config
        const config = (await run('skopeo', ['inspect', ...arch, '--config', '--raw', `oci:${dir}:latest`])).stdout;
        assert.equal(sha256(config), child.configDigest);
        assert.equal((JSON.parse(config) as { architecture: string }).architecture, child.platform.architecture);
      }
    });

    it('writes artifacts with an empty config', async () => {
      const dir = join(root, 'artifact');
      const art = await writeArtifactLayout(dir, { artifactType: 'application/vnd.berth.test', blobs: [{ content: 'sig' }] });
      const raw = (await run('skopeo', ['inspect', '--raw', `oci:${dir}:latest`])).stdout;
      assert.equal(sha256(raw), art.manifestDigest);
      assert.equal((JSON.parse(raw) as { artifactType: string }).artifactType, 'application/vnd.berth.test');
    });
  });

  describe('umoci', { skip: skipUnlessTools('umoci') }, () => {
    it('unpacks the layout, verifying diff_ids', async () => {
      const dir = join(root, 'umoci');
      await writeImageLayout(dir, { layers: [{ files: { 'etc/motd': 'one\n' } }, { files: { 'etc/motd': 'two\n' }, gzip: false }] });
      const bundle = join(root, 'bundle');
      await run('umoci', ['unpack', '--rootless', '--image', `${dir}:latest`, bundle]);
      assert.equal(await readFile(join(bundle, 'rootfs', 'etc', 'motd'), 'utf8'), 'two\n');
    });
  });

  describe('podman', { skip: skipUnlessTools('podman') }, () => {
    it('pulls the layout into a throwaway store', async (t) => {
      // podman names the image after the layout path, which must therefore be lowercase
      const dir = join(tmpdir(), `berth-podman-${randomUUID()}`);
      t.after(() => rm(dir, { recursive: true, force: true }));
      const img = await writeImageLayout(dir, { layers: [{ files: { 'hello.txt': 'hello\n' } }] });
      const store = ['--root', join(root, 'pm-root'), '--runroot', join(root, 'pm-run'), '--storage-driver', 'vfs'];
      await run('podman', [...store, 'pull', '--quiet', `oci:${dir}:latest`]);
      const { stdout } = await run('podman', [...store, 'images', '--format', '{{.Digest}}']);
      assert.match(stdout, new RegExp(img.manifestDigest));
    });
  });

  describe('docker', { skip: skipUnlessTools('skopeo', 'dockerd', 'docker') }, () => {
    it('loads the layout into a private engine', async () => {
      const dir = join(root, 'docker');
      const img = await writeImageLayout(dir, { layers: [{ files: { 'hello.txt': 'hello\n' } }, { randomBytes: 1 << 20, seed: 3 }] });
      const archive = join(root, 'docker.tar');
      await run('skopeo', ['copy', '--quiet', `oci:${dir}:latest`, `docker-archive:${archive}:berth/fixture:latest`]);
      const dockerd = await startDockerd();
      try {
        await run('docker', ['load', '--input', archive], { env: dockerd.env });
        const { stdout } = await run('docker', ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'berth/fixture:latest'], {
          env: dockerd.env,
        });
        const config = await readJson<{ rootfs: { diff_ids: string[] } }>(join(dir, 'blobs', 'sha256', img.configDigest.slice(7)));
        assert.deepEqual(JSON.parse(stdout), config.rootfs.diff_ids);
      } finally {
        await dockerd.stop();
      }
    });
  });
});
