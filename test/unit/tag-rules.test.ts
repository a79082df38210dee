import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/load.js";
import { globMatch } from "../../src/auth/scope.js";
import { RegistryError } from "../../src/oci/errors.js";
import { globMatch as ociGlobMatch } from "../../src/oci/glob.js";
import {
  compileTagPattern,
  createTagRules,
  immutableDeleteError,
  immutableMoveError,
  tagPatternProblem,
  type TagRule,
} from "../../src/oci/tag-rules.js";

const rule = (r: Partial<TagRule> & { name: string; repositories: string }): TagRule => ({
  immutable: [],
  forbid: [],
  require: [],
  ...r,
});

/** The TAG_INVALID refusal `fn` throws, with its message and detail. */
function tagInvalid(fn: () => void): RegistryError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RegistryError, String(err));
    assert.equal(err.code, "TAG_INVALID");
    assert.equal(err.status, 400);
    return err;
  }
  assert.fail("expected TAG_INVALID");
}

describe("tag patterns", () => {
  it("semver accepts 1.2.3, v1.2.3 and pre-releases, nothing else", () => {
    const semver = compileTagPattern("semver");
    for (const ok of ["1.2.3", "v1.2.3", "0.0.0", "v10.20.30-rc.1", "1.0.0-alpha-2"]) assert.ok(semver(ok), ok);
    for (const bad of ["latest", "1.2", "v1", "01.2.3", "1.2.3.4", "x1.2.3", "1.2.3-", "V1.2.3"]) assert.ok(!semver(bad), bad);
  });

  it("git-sha accepts git- and 7 to 40 lowercase hex digits", () => {
    const sha = compileTagPattern("git-sha");
    for (const ok of ["git-abc1234", `git-${"f".repeat(40)}`]) assert.ok(sha(ok), ok);
    for (const bad of ["git-abc123", `git-${"f".repeat(41)}`, "git-ABC1234", "abc1234", "git-abcdefg"]) assert.ok(!sha(bad), bad);
  });

  it("reads /…/ as a regex (with an optional i flag) and anything else as a glob", () => {
    assert.ok(compileTagPattern("/^\\d+$/")("123"));
    assert.ok(!compileTagPattern("/^\\d+$/")("12a"));
    assert.ok(compileTagPattern("/^rc/i")("RC1"));
    assert.ok(compileTagPattern("v*")("v1.0"));
    assert.ok(!compileTagPattern("v*")("1.0"));
    assert.ok(compileTagPattern("latest")("latest"));
    assert.ok(!compileTagPattern("latest")("latest-1"), "a glob without * is a literal, whole name");
    assert.ok(!compileTagPattern("v1.0")("v1x0"), "a glob's dot is literal");
  });

  it("reports invalid regexes and accepts everything else", () => {
    assert.match(tagPatternProblem("/[a-/")!, /invalid regular expression \/\[a-\//);
    assert.match(tagPatternProblem("//")!, /empty regular expression/);
    assert.match(tagPatternProblem("")!, /empty/);
    for (const ok of ["semver", "git-sha", "v*", "/^v\\d+$/", "/x/i"]) assert.equal(tagPatternProblem(ok), undefined, ok);
  });
});

describe("createTagRules", () => {
  const rules = createTagRules([
    rule({ name: "releases", repositories: "prod/*", immutable: ["v*", "/^\\d+\\.\\d+\\.\\d+$/"], forbid: ["latest"], require: ["semver", "git-sha"] }),
    rule({ name: "tagRules[1]", repositories: "*", forbid: ["nightly-*"] }),
  ]);

  it("finds the rule that makes a tag immutable, only in covered repositories", () => {
    assert.equal(rules.immutableRule("prod/app", "v1.2.3"), "releases");
    assert.equal(rules.immutableRule("prod/team/app", "1.2.3"), "releases", "* crosses slashes");
    assert.equal(rules.immutableRule("prod/app", "git-abcdef0"), undefined);
    assert.equal(rules.immutableRule("dev/app", "v1.2.3"), undefined);
    assert.equal(createTagRules([]).empty, true);
    assert.equal(rules.empty, false);
  });

  it("refuses forbidden names with TAG_INVALID naming the rule and the tag", () => {
    const err = tagInvalid(() => rules.checkName("prod/app", "latest"));
    assert.match(err.message, /"latest".*forbidden.*"releases"/);
    assert.deepEqual(err.detail, { tag: "latest", rule: "releases" });
    const everywhere = tagInvalid(() => rules.checkName("dev/app", "nightly-42"));
    assert.deepEqual(everywhere.detail, { tag: "nightly-42", rule: "tagRules[1]" });
  });

  it("requires one of the patterns in covered repositories only", () => {
    rules.checkName("prod/app", "v1.2.3");
    rules.checkName("prod/app", "git-0123abc");
    const err = tagInvalid(() => rules.checkName("prod/app", "feature-x"));
    assert.match(err.message, /"feature-x".*"releases".*semver or git-sha/);
    assert.deepEqual(err.detail, { tag: "feature-x", rule: "releases" });
    rules.checkName("dev/app", "feature-x");
    rules.checkName("dev/app", "latest");
  });

  it("builds DENIED refusals naming the rule and the tag", () => {
    const move = immutableMoveError("v1", "releases");
    assert.equal(move.code, "DENIED");
    assert.equal(move.status, 403);
    assert.match(move.message, /"v1".*immutable.*"releases"/);
    assert.deepEqual(move.detail, { tag: "v1", rule: "releases" });
    const byDigest = immutableDeleteError("v1", "releases", "sha256:abc");
    assert.match(byDigest.message, /sha256:abc.*"v1".*"releases".*cannot be deleted/);
    assert.deepEqual(byDigest.detail, { tag: "v1", rule: "releases" });
  });
});

describe("globMatch", () => {
  it("lives in oci/glob and is still exported by auth/scope", () => {
    assert.equal(globMatch, ociGlobMatch);
    assert.ok(ociGlobMatch("team/*", "team/a/b"));
    assert.ok(!ociGlobMatch("team/*", "teams"));
    assert.ok(ociGlobMatch("a.b", "a.b") && !ociGlobMatch("a.b", "axb"));
  });
});

describe("tagRules config", () => {
  it("defaults to none, fills list defaults and names unnamed rules by position", () => {
    assert.deepEqual(loadConfig({ env: {} }).tagRules, []);
    const config = loadConfig({
      env: {},
      overrides: {
        tagRules: [
          { name: "releases", repositories: "prod/*", immutable: ["semver"] },
          { repositories: "*", forbid: ["latest"] },
        ],
      },
    });
    assert.deepEqual(config.tagRules, [
      { name: "releases", repositories: "prod/*", immutable: ["semver"], forbid: [], require: [] },
      { name: "tagRules[1]", repositories: "*", immutable: [], forbid: ["latest"], require: [] },
    ]);
  });

  it("refuses an invalid regex, an unknown key and an empty rule with a clear message", () => {
    const load = (tagRules: unknown) => () => loadConfig({ env: {}, overrides: { tagRules } });
    assert.throws(load([{ repositories: "*", require: ["/(unclosed/"] }]), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /tagRules\.0\.require\.0: invalid regular expression \/\(unclosed\//);
      return true;
    });
    assert.throws(load([{ repositories: "*", forbid: ["latest"], mutable: [] }]), /tagRules\.0.*mutable/);
    assert.throws(load([{ repositories: "*" }]), /tagRules\.0: a tag rule needs at least one of immutable, forbid, require/);
    assert.throws(load([{ forbid: ["latest"] }]), /tagRules\.0\.repositories/);
  });
});
