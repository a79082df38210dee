/**
 * The layers of the supply-chain benchmark, built once into a cache directory and reused:
 *
 * - `real`: a tar of about 505 MiB of this machine's files (Python's library and its sources,
 *   /usr/share/doc, /usr/include, then executables and shared libraries), gzip level 6. It is kept
 *   as one gzip member of the tar without its end blocks, so a distinct layer for each push costs
 *   one small second member (a file with a fresh id, then the end blocks) instead of compressing
 *   half a gigabyte again; gzip readers (Node's zlib, skopeo, containerd) read members one after
 *   the other.
 * - `text`: 128 MiB of source-like text (real Python modules with a keyword-dense line every
 *   fourth line: tokens, passwords, secrets and keys read from the environment or left as
 *   placeholders), the secret scanner's worst case; no line is a secret under the built-in rules.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip, gzipSync } from "node:zlib";
import { scanLayer } from "../src/supply/secrets/scan-layer.js";
import { loadSecretRules } from "../src/supply/secrets/rules.js";
import { makeConfig, sha256, tarHeader, tarPadding, TAR_TRAILER } from "../test/helpers/fixtures.js";

/** A cached layer: the gzip member(s) on disk and what they hold. */
export interface BenchLayer {
  name: string;
  /** gzip file; for `real` the tar without its end blocks (add `suffix()`). */
  file: string;
  gzipBytes: number;
  tarBytes: number;
  files: number;
  /** Files left out because the built-in secret rules flag them. */
  excluded?: string[];
}

const REAL_DIRS = ["/usr/lib/python3.11", "/usr/lib/python3", "/usr/share/doc", "/usr/include", "/usr/bin", "/usr/lib/x86_64-linux-gnu"];
const REAL_TAR_BYTES = 508 * 2 ** 20;
const TEXT_BYTES = 128 * 2 ** 20;
const TEXT_FILE = 64 * 1024;

async function cached(dir: string, name: string, build: () => Promise<BenchLayer>): Promise<BenchLayer> {
  const meta = join(dir, `${name}.json`);
  if (existsSync(meta)) return JSON.parse(await readFile(meta, "utf8")) as BenchLayer;
  const layer = await build();
  await writeFile(meta, JSON.stringify(layer));
  return layer;
}

/** Files of REAL_DIRS in order (find's order) until the tar would pass REAL_TAR_BYTES. */
function realFileList(): string[] {
  const out: string[] = [];
  let total = 0;
  for (const d of REAL_DIRS) {
    const r = spawnSync("find", [d, "-type", "f", "-readable", "-printf", "%s %p\\n"], { encoding: "utf8", maxBuffer: 256 << 20 });
    for (const line of (r.stdout ?? "").split("\n")) {
      const sp = line.indexOf(" ");
      if (sp < 0) continue;
      const size = Number(line.slice(0, sp));
      total += 512 + Math.ceil(size / 512) * 512;
      if (total > REAL_TAR_BYTES) return out;
      out.push(line.slice(sp + 1));
    }
  }
  return out;
}

/** The real-files layer: built with GNU tar (one 512-byte record per block), end blocks cut, gzip level 6. */
export function realLayer(dir: string): Promise<BenchLayer> {
  return cached(dir, "real", async () => {
    const list = join(dir, "real.files");
    const tar = join(dir, "real.tar");
    let files = realFileList();
    const makeTar = async () => {
      await writeFile(list, files.join("\n") + "\n");
      const r = spawnSync("tar", ["--no-recursion", "-b1", "-cf", tar, "-T", list], { encoding: "utf8" });
      if (!existsSync(tar)) throw new Error(`tar failed: ${r.stderr}`);
    };
    await makeTar();
    // Files the built-in rules flag (example keys in docs, OAuth examples) would make a push under `block` a refusal.
    const scan = await scanLayer(createReadStream(tar), loadSecretRules(), { maxFileSize: 10 * 2 ** 20 });
    const flagged = [...new Set(scan.findings.map((f) => `/${f.file}`))];
    if (flagged.length > 0) {
      files = files.filter((f) => !flagged.includes(f));
      await makeTar();
    }
    const size = (await stat(tar)).size;
    const tail = readFileSync(tar).subarray(size - 1024);
    if (tail.some((b) => b !== 0)) throw new Error(`${tar} does not end with two zero blocks`);
    const body = () => createReadStream(tar, { end: size - 1025 });
    const file = join(dir, "real.base.gz");
    await pipeline(body(), createGzip({ level: 6 }), createWriteStream(`${file}.tmp`));
    await rename(`${file}.tmp`, file);
    return { name: "real", file, gzipBytes: (await stat(file)).size, tarBytes: size, files: files.length, excluded: flagged };
  });
}

const KEYWORD_LINES = [
  `    api_token = os.environ.get("API_TOKEN")  # the token for the secret store`,
  `    password: str = config["password"] or getpass.getpass("password: ")`,
  `SECRET_KEY = settings.SECRET_KEY or generate_secret_key()  # never commit a secret`,
  `    headers["Authorization"] = "Bearer " + self.access_token  # token refresh below`,
  `    aws_secret_access_key = "\${AWS_SECRET_ACCESS_KEY}"`,
  `    if not credentials.token or credentials.expired: credentials.refresh(request)`,
  `    client_secret = "your-client-secret-here"  # placeholder, see docs`,
  `    passwd_file = os.path.join(home, ".passwd")  # api_key and key files live here`,
  `    token_url = "https://example.com/oauth/token"  # keystore: secret/key/passphrase`,
  `    private_key_path = "/etc/app/private_key.pem"  # load the key, never the key itself`,
];

/** The text worst case: Python sources from this machine, a keyword line after every third line. */
export function textLayer(dir: string): Promise<BenchLayer> {
  return cached(dir, "text", async () => {
    const sources: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory() && !e.name.startsWith("test")) walk(p);
        else if (e.isFile() && e.name.endsWith(".py") && statSync(p).size > 4096) sources.push(p);
      }
    };
    walk("/usr/lib/python3.11");
    sources.sort();
    const lines = sources.flatMap((p) => readFileSync(p, "latin1").split("\n"));
    let at = 0;
    let k = 0;
    const nextFile = (): Buffer => {
      const out: string[] = [];
      let size = 0;
      while (size < TEXT_FILE) {
        const line = at % 4 === 3 ? KEYWORD_LINES[k++ % KEYWORD_LINES.length]! : lines[(at - Math.floor(at / 4)) % lines.length]!;
        at++;
        out.push(line);
        size += line.length + 1;
      }
      return Buffer.from(out.join("\n") + "\n", "latin1");
    };
    const count = TEXT_BYTES / TEXT_FILE;
    let tarBytes = 0;
    const file = join(dir, "text.tar.gz");
    await pipeline(
      Readable.from(
        (function* () {
          for (let i = 0; i < count; i++) {
            const body = nextFile();
            const parts = [tarHeader({ path: `src/app/module_${String(i).padStart(4, "0")}.py`, type: "file", size: body.length }), body, tarPadding(body.length)];
            for (const p of parts) tarBytes += p.length;
            yield* parts;
          }
          tarBytes += TAR_TRAILER.length;
          yield TAR_TRAILER;
        })(),
      ),
      createGzip({ level: 6 }),
      createWriteStream(`${file}.tmp`),
    );
    await rename(`${file}.tmp`, file);
    return { name: "text", file, gzipBytes: (await stat(file)).size, tarBytes, files: count };
  });
}

/** The gzip member that ends a variant of `real`: one small file with a fresh id, then the end blocks. */
export function variantSuffix(id = randomUUID()): { gz: Buffer; tar: Buffer } {
  const body = Buffer.from(`bench variant ${id}\n`);
  const tar = Buffer.concat([tarHeader({ path: `bench/variant-${id}.txt`, type: "file", size: body.length }), body, tarPadding(body.length), TAR_TRAILER]);
  return { gz: gzipSync(tar), tar };
}

/** The layer's bytes as one stream: the cached member, then `suffix` (if any). */
export function layerStream(layer: BenchLayer, suffix?: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield* createReadStream(layer.file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
      if (suffix) yield suffix;
    })(),
  );
}

/**
 * Writes an OCI layout (tag `latest`) holding one image whose only layer is a fresh variant of
 * `real`; returns its compressed layer size. The diff id is hashed again from the tar (cheap next
 * to the push; no hash state can be stored).
 */
export async function writeVariantLayout(dir: string, real: BenchLayer, tarFile: string): Promise<{ layerBytes: number; layerDigest: string }> {
  const blobs = join(dir, "blobs", "sha256");
  await mkdir(blobs, { recursive: true });
  const suffix = variantSuffix();
  const layerHash = createHash("sha256");
  const tmp = join(blobs, "layer.tmp");
  await pipeline(
    layerStream(real, suffix.gz),
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const c of chunks) {
        layerHash.update(c);
        yield c;
      }
    },
    createWriteStream(tmp),
  );
  const layerDigest = `sha256:${layerHash.digest("hex")}`;
  await rename(tmp, join(blobs, layerDigest.slice(7)));
  const diff = createHash("sha256");
  const size = real.tarBytes;
  for await (const c of createReadStream(tarFile, { end: size - 1025 })) diff.update(c as Buffer);
  diff.update(suffix.tar);
  const config = makeConfig([`sha256:${diff.digest("hex")}`]);
  const layerBytes = real.gzipBytes + suffix.gz.length;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layerDigest, size: layerBytes }],
    }),
  );
  for (const blob of [config, manifest]) await writeFile(join(blobs, sha256(blob).slice(7)), blob);
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: manifest.length, annotations: { "org.opencontainers.image.ref.name": "latest" } }],
    }),
  );
  return { layerBytes, layerDigest };
}
