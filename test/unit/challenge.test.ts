// parseChallenge (src/client/challenge.ts) on WWW-Authenticate values as registries send them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseChallenge } from "../../src/client/challenge.js";

describe("parseChallenge", () => {
  const cases: [string, string | string[] | undefined, ReturnType<typeof parseChallenge>][] = [
    [
      "Docker Hub",
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/nginx:pull" } },
    ],
    [
      "Docker Hub on a push: a comma inside the quoted scope",
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:alice/app:pull,push"',
      { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:alice/app:pull,push" } },
    ],
    [
      "ghcr.io",
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:octo-org/octo-image:pull"',
      { scheme: "bearer", params: { realm: "https://ghcr.io/token", service: "ghcr.io", scope: "repository:octo-org/octo-image:pull" } },
    ],
    ["quay.io, no scope", 'Bearer realm="https://quay.io/v2/auth",service="quay.io"', { scheme: "bearer", params: { realm: "https://quay.io/v2/auth", service: "quay.io" } }],
    [
      "distribution, a mount: two scopes, a space and commas inside the quotes, and the error",
      'Bearer realm="http://127.0.0.1:5001/token",service="registry",scope="repository:a/b:pull,push repository:c/d:pull",error="insufficient_scope"',
      { scheme: "bearer", params: { realm: "http://127.0.0.1:5001/token", service: "registry", scope: "repository:a/b:pull,push repository:c/d:pull", error: "insufficient_scope" } },
    ],
    [
      "Amazon ECR: Basic with a service",
      'Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"',
      { scheme: "basic", params: { realm: "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/", service: "ecr.amazonaws.com" } },
    ],
    ["distribution with htpasswd", 'Basic realm="basic-realm"', { scheme: "basic", params: { realm: "basic-realm" } }],
    ["Basic without parameters", "Basic", { scheme: "basic", params: {} }],
    [
      "case, spaces around = and after commas, unquoted values",
      'bearer   Realm = "https://r.example/token" ,  service=r.example,scope=repository:x:pull',
      { scheme: "bearer", params: { realm: "https://r.example/token", service: "r.example", scope: "repository:x:pull" } },
    ],
    ["an escaped quote inside a value", 'Basic realm="say \\"hi\\""', { scheme: "basic", params: { realm: 'say "hi"' } }],
    [
      "two challenges joined by Node (two WWW-Authenticate headers): the first one's parameters only",
      'Bearer realm="https://a.example/token",service="a", Basic realm="b"',
      { scheme: "bearer", params: { realm: "https://a.example/token", service: "a" } },
    ],
    ["an array of header values: the first", ['Basic realm="first"', 'Bearer realm="second"'], { scheme: "basic", params: { realm: "first" } }],
    ["absent", undefined, undefined],
    ["empty", "", undefined],
    ["no scheme", '="x"', undefined],
  ];
  for (const [what, header, expected] of cases) {
    it(what, () => assert.deepEqual(parseChallenge(header), expected));
  }
});
