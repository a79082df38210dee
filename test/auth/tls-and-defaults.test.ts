import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createOpenGuard } from "../../src/http/guard.js";
import { RegistryError } from "../../src/oci/errors.js";
import { startBerth } from "../helpers/berth.js";
import { run, skipUnlessTools } from "../helpers/tools.js";
import type { IncomingMessage } from "node:http";

describe("serving HTTPS", { skip: skipUnlessTools("openssl") }, () => {
  it("--tls-cert/--tls-key serve the registry over TLS with the given certificate", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-tls-"));
    try {
      await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
        "-subj", "/CN=berth-test", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")]);
      const b = await startBerth({ BERTH_TLS_CERT: join(dir, "cert.pem"), BERTH_TLS_KEY: join(dir, "key.pem"), BERTH_AUTH: "on", BERTH_ADMIN_PASSWORD: "admin-password" });
      try {
        const ca = await readFile(join(dir, "cert.pem"));
        const res = await new Promise<IncomingMessage>((resolve, reject) =>
          request(`https://${b.host}/v2/`, { ca }, resolve).on("error", reject).end(),
        );
        res.resume();
        assert.equal(res.statusCode, 401);
        assert.match(String(res.headers["www-authenticate"]), /^Bearer realm="https:\/\/127\.0\.0\.1:\d+\/token"/, "the realm is https");
        await assert.rejects(fetch(`http://${b.host}/v2/`), "plain HTTP is not served");
      } finally {
        await b.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("defaults without access control", () => {
  const req = {} as IncomingMessage;
  it("lets anyone do anything on loopback, like registry:2", async () => {
    const guard = createOpenGuard(false);
    await guard.check(req, { repository: "a", actions: ["pull", "push", "delete"] });
  });
  it("off loopback, lets anonymous users pull only unless anonymous push is allowed", async () => {
    const guard = createOpenGuard(true);
    await guard.check(req, { repository: "a", actions: ["pull"] });
    await assert.rejects(guard.check(req, { repository: "a", actions: ["pull", "push"] }), (e) => e instanceof RegistryError && e.code === "DENIED");
    await assert.rejects(guard.check(req, { repository: "a", actions: ["delete"] }), (e) => e instanceof RegistryError && e.status === 403);
  });
});
