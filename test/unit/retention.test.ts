import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/load.js";
import type { Digest } from "../../src/oci/digest.js";
import { decideRetention, ruleFor, type RetentionRule, type TagFacts } from "../../src/oci/retention-rules.js";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 31);
const rule = (r: Partial<RetentionRule>): RetentionRule => ({ name: "r", repositories: "*", keep: [], deleteUntagged: false, ...r });
const tag = (name: string, pushedDaysAgo: number, pulledDaysAgo?: number): TagFacts => ({
  tag: name,
  digest: `sha256:${name.padEnd(64, "0")}` as Digest,
  pushedAt: NOW - pushedDaysAgo * DAY,
  ...(pulledDaysAgo !== undefined ? { pulledAt: NOW - pulledDaysAgo * DAY } : {}),
});
const names = (list: { tag: string }[]) => list.map((t) => t.tag);
const reasons = (d: ReturnType<typeof decideRetention>) => Object.fromEntries(d.kept.map((t) => [t.tag, t.reasons]));

describe("decideRetention", () => {
  const tags = [tag("a", 50), tag("b", 40), tag("c", 3), tag("d", 20, 1), tag("v1.2.0", 90), tag("e", 60)];

  it("keepLast keeps the N most recently pushed tags, newest first", () => {
    const d = decideRetention(rule({ keepLast: 2 }), tags, NOW);
    assert.deepEqual(names(d.kept), ["c", "d"]);
    assert.deepEqual(names(d.doomed), ["b", "a", "e", "v1.2.0"]);
    assert.deepEqual(reasons(d), { c: ["keepLast"], d: ["keepLast"] });
  });

  it("breaks push-time ties by tag name, so the choice never depends on listing order", () => {
    const same = [tag("y", 1), tag("x", 1), tag("z", 1)];
    assert.deepEqual(names(decideRetention(rule({ keepLast: 2 }), same, NOW).kept), ["x", "y"]);
    assert.deepEqual(names(decideRetention(rule({ keepLast: 2 }), [...same].reverse(), NOW).kept), ["x", "y"]);
  });

  it("keepWithin keeps tags pushed or pulled within the window, and says which", () => {
    const d = decideRetention(rule({ keepWithin: 7 * DAY }), tags, NOW);
    assert.deepEqual(reasons(d), { c: ["keepWithin:pushed"], d: ["keepWithin:pulled"] });
    const edge = decideRetention(rule({ keepWithin: 20 * DAY }), tags, NOW);
    assert.deepEqual(reasons(edge).d, ["keepWithin:pushed", "keepWithin:pulled"], "the boundary is inclusive");
  });

  it("keep patterns: semver, /regex/ and glob", () => {
    const d = decideRetention(rule({ keep: ["semver", "/^[ab]$/", "e*"] }), tags, NOW);
    assert.deepEqual(reasons(d), { a: ["pattern:/^[ab]$/"], b: ["pattern:/^[ab]$/"], e: ["pattern:e*"], "v1.2.0": ["pattern:semver"] });
    assert.deepEqual(names(d.doomed), ["c", "d"]);
  });

  it("keeps a tag when ANY condition holds, listing every reason", () => {
    const d = decideRetention(rule({ keepLast: 1, keepWithin: 5 * DAY, keep: ["semver"] }), tags, NOW);
    assert.deepEqual(reasons(d), { c: ["keepLast", "keepWithin:pushed"], d: ["keepWithin:pulled"], "v1.2.0": ["pattern:semver"] });
    assert.deepEqual(names(d.doomed), ["b", "a", "e"]);
  });

  it("never deletes an immutable tag, and names the tag rule", () => {
    const immutable = (t: string) => (t === "a" ? "frozen" : undefined);
    const d = decideRetention(rule({ keepLast: 1 }), tags, NOW, immutable);
    assert.deepEqual(reasons(d), { c: ["keepLast"], a: ["immutable:frozen"] });
    assert.ok(!names(d.doomed).includes("a"));
  });

  it("an immutable tag still counts towards keepLast (the N newest, whatever else keeps them)", () => {
    const d = decideRetention(rule({ keepLast: 2 }), tags, NOW, (t) => (t === "c" ? "frozen" : undefined));
    assert.deepEqual(reasons(d), { c: ["immutable:frozen", "keepLast"], d: ["keepLast"] });
  });

  it("an empty repository decides nothing", () => {
    assert.deepEqual(decideRetention(rule({ keepLast: 3 }), [], NOW), { kept: [], doomed: [] });
  });
});

describe("ruleFor", () => {
  it("picks the first rule in configuration order whose glob matches", () => {
    const rules = [rule({ name: "prod", repositories: "prod/*" }), rule({ name: "all", repositories: "*" })];
    assert.equal(ruleFor(rules, "prod/api")?.name, "prod");
    assert.equal(ruleFor(rules, "dev/api")?.name, "all");
    assert.equal(ruleFor([...rules].reverse(), "prod/api")?.name, "all", "order decides, not specificity");
    assert.equal(ruleFor([rules[0]!], "dev/api"), undefined, "no rule: never touched");
  });
});

describe("retention config", () => {
  const load = (retention: unknown) => loadConfig({ env: {}, overrides: { retention } });

  it("defaults to off with no rules; durations in days; unnamed rules named by position", () => {
    assert.deepEqual(loadConfig({ env: {} }).retention, { schedule: "off", rules: [] });
    const config = load({
      schedule: "24h",
      rules: [{ name: "prod", repositories: "prod/*", keepLast: 10, keepWithin: "30d", keep: ["semver"], deleteUntagged: true }, { repositories: "*", keepLast: 5 }],
    });
    assert.equal(config.retention.schedule, DAY);
    assert.deepEqual(config.retention.rules, [
      { name: "prod", repositories: "prod/*", keepLast: 10, keepWithin: 30 * DAY, keep: ["semver"], deleteUntagged: true },
      { name: "retention.rules[1]", repositories: "*", keepLast: 5, keep: [], deleteUntagged: false },
    ]);
    assert.equal(loadConfig({ env: { BERTH_RETENTION_SCHEDULE: "12h" } }).retention.schedule, DAY / 2);
  });

  it("refuses a rule that keeps nothing, a bad pattern, a bad duration and unknown keys", () => {
    const refused = (retention: unknown, re: RegExp) =>
      assert.throws(() => load(retention), (err: unknown) => err instanceof ConfigError && re.test(err.message));
    refused({ rules: [{ repositories: "*", deleteUntagged: true }] }, /retention\.rules\.0: a retention rule needs at least one of keepLast, keepWithin, keep/);
    refused({ rules: [{ repositories: "*", keep: ["/(x/"] }] }, /retention\.rules\.0\.keep\.0: invalid regular expression/);
    refused({ rules: [{ repositories: "*", keepWithin: "a month" }] }, /not a duration/);
    refused({ rules: [{ repositories: "*", keepLast: 0 }] }, /keepLast/);
    refused({ rules: [{ repositories: "*", keepLast: 1, keepFirst: 2 }] }, /keepFirst/);
    refused({ schedule: "sometimes" }, /not a duration/);
  });
});
