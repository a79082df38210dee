import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { checkAxe, launchBrowser, openPage, screenshot, signIn, skipUnlessBrowser } from "../helpers/browser.js";
import { AuthClient, basic, createUser, declareNamespace } from "../http/auth-client.js";
import { makeImage } from "../http/client.js";

const ADMIN_PASSWORD = "admin-password-1";
const WENDY_PASSWORD = "wendy-password-1";

/** The admin pages and My tokens in a real browser: users, namespaces and members, robot tokens shown once, the audit log, refusals. */
describe("web UI: administration and robot tokens", { skip: skipUnlessBrowser() }, () => {
  let berth: TestBerth;
  let browser: Browser;
  let admin: AuthClient;
  before(async () => {
    berth = await startBerth({ BERTH_AUTH: "true", BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD });
    browser = await launchBrowser();
    admin = new AuthClient(berth.url, basic("admin", ADMIN_PASSWORD));
    await admin.pushImage("team/app", makeImage(), "v1");
    await admin.pushImage("team/web", makeImage(), "latest");
    await admin.pushImage("team/db", makeImage(), "15");
    // Colleagues, so the users page looks like a registry in use.
    for (const [name, isAdmin] of [["maria", true], ["ci-builder", false], ["dev-lee", false]] as const) {
      assert.equal((await admin.api("POST", "users", { name, password: `${name}-password-1`, admin: isAdmin })).status, 201);
    }
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
  });

  const v2 = (path: string, user: string, secret: string) => fetch(`${berth.url}/v2/${path}`, { headers: { Authorization: basic(user, secret), Accept: "application/vnd.oci.image.manifest.v1+json" } });

  /** Confirms the open dialog with its `label` button. */
  const confirmWith = async (page: Page, label: string) => {
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await dialog.getByRole("button", { name: label }).click();
    await dialog.waitFor({ state: "detached" });
  };

  it("an admin adds a user and a namespace with that user as writer", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, berth.url, "admin", ADMIN_PASSWORD);
    await page.getByRole("link", { name: "Admin" }).click();
    await page.getByRole("heading", { name: "Admin: Users" }).waitFor();
    const add = page.getByRole("form", { name: "Add a user" });
    await add.getByLabel("User name").fill("wendy");
    await add.getByLabel("Password").fill(WENDY_PASSWORD);
    await add.getByRole("button", { name: "Add user" }).click();
    await page.getByRole("status").getByText("User wendy added.").waitFor();
    await page.getByRole("cell", { name: "wendy", exact: true }).waitFor();
    await checkAxe(page, "admin users page");
    await screenshot(page, "admin-users");

    await page.getByRole("button", { name: "Set password for ci-builder" }).click();
    await page.getByLabel("New password", { exact: true }).fill("ci-builder-password-2");
    await page.getByRole("form", { name: "New password for ci-builder" }).getByRole("button", { name: "Set password" }).click();
    await page.getByText("Password of ci-builder changed").waitFor();
    assert.equal((await fetch(`${berth.url}/v2/`, { headers: { Authorization: basic("ci-builder", "ci-builder-password-2") } })).status, 200, "the new password works");
    await page.getByRole("button", { name: "Delete user dev-lee" }).click();
    await confirmWith(page, "Delete user");
    await page.getByText("User dev-lee deleted.").waitFor();
    await page.getByRole("cell", { name: "dev-lee" }).first().waitFor({ state: "detached" }); // the list reloads after the notice
    assert.equal((await fetch(`${berth.url}/v2/`, { headers: { Authorization: basic("dev-lee", "dev-lee-password-1") } })).status, 401);

    await page.getByRole("link", { name: "Namespaces" }).click();
    const ns = page.getByRole("form", { name: "Create or change a namespace" });
    await ns.getByLabel("Namespace").fill("team");
    await ns.getByLabel("Visibility").selectOption("private");
    await ns.getByRole("button", { name: "Save namespace" }).click();
    await page.getByRole("heading", { name: "Namespace team" }).waitFor();
    const member = page.getByRole("form", { name: "Add a member to team" });
    await member.getByLabel("User").fill("wendy");
    await member.getByLabel("Role").selectOption("writer");
    await member.getByRole("button", { name: "Add member" }).click();
    await page.getByText("wendy is now writer of team.").waitFor();
    assert.equal(await page.getByLabel("Role of wendy").inputValue(), "writer");
    await page.getByRole("cell", { name: "team/app" }).waitFor();
    const visibility = page.getByRole("form", { name: "Set a repository's visibility in team" });
    await visibility.getByLabel("Repository").fill("team/web");
    await visibility.getByLabel("Visibility").selectOption("public");
    await visibility.getByRole("button", { name: "Set visibility" }).click();
    await page.getByText("team/web is now public.").waitFor();
    await page.getByRole("row", { name: /team\/web/ }).getByRole("cell", { name: "public" }).waitFor();
    assert.equal((await fetch(`${berth.url}/v2/team/web/manifests/latest`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } })).status, 200, "anyone may pull a public repository");
    assert.equal((await fetch(`${berth.url}/v2/team/app/manifests/v1`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } })).status, 401, "the rest of the private namespace is not");
    await checkAxe(page, "admin namespaces page");
    const members = (await admin.api("GET", "namespaces/team/members")).json<{ user: string; role: string }[]>();
    assert.deepEqual(members, [{ user: "wendy", role: "writer" }]);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("a user creates a token in My tokens, shown once, that pulls; revoked, it is refused; the audit log shows both", async () => {
    const { context, page, problems } = await openPage(browser, { width: 375 });
    await signIn(page, berth.url, "wendy", WENDY_PASSWORD);
    assert.equal(await page.getByRole("link", { name: "Admin" }).count(), 0, "no Admin link for a plain user");
    assert.equal(await page.getByRole("link", { name: "Registry" }).count(), 0, "no Registry link for a plain user");
    await page.getByRole("link", { name: "My tokens" }).click();
    await page.getByText("No robot tokens yet.").waitFor();
    const form = page.getByRole("form", { name: "Create a robot token" });
    await form.getByLabel("Token name").fill("ci-pull");
    await form.getByLabel("Scopes (one a line)").fill("repository:team/*:pull");
    await form.getByRole("button", { name: "Create token" }).click();
    await page.getByText("you will not see it again").waitFor();
    const secret = (await page.getByTestId("token-secret").textContent())!.trim();
    assert.match(secret, /^berth_/);
    await page.getByRole("button", { name: /^Copy token/ }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, "the copy button puts the secret on the clipboard");

    assert.equal((await v2("", "wendy", secret)).status, 200, "the token logs in");
    assert.equal((await v2("team/app/manifests/v1", "wendy", secret)).status, 200, "the token pulls");
    // The button says "Copied" for a moment, a name that no longer matches its label.
    await page.getByRole("button", { name: /^Copy token/ }).getByText("Copy token", { exact: true }).waitFor();
    await checkAxe(page, "my tokens page with a new secret, phone width");
    await screenshot(page, "tokens");

    await page.reload();
    await page.getByRole("cell", { name: "ci-pull", exact: true }).waitFor();
    assert.equal(await page.getByTestId("token-secret").count(), 0, "the secret is not shown again");
    assert.equal((await page.content()).includes(secret), false);

    await page.getByRole("button", { name: "Revoke wendy/ci-pull" }).click();
    await confirmWith(page, "Revoke token");
    await page.getByText("revoked", { exact: true }).waitFor();
    assert.equal((await v2("team/app/manifests/v1", "wendy", secret)).status, 401, "a revoked token is refused");
    assert.deepEqual(problems, []);
    await context.close();

    const adminPage = await openPage(browser);
    await signIn(adminPage.page, berth.url, "admin", ADMIN_PASSWORD);
    await adminPage.page.goto(`${berth.url}/ui/admin/audit`);
    const filters = adminPage.page.getByRole("form", { name: "Filter the audit log" });
    await filters.getByLabel("User").fill("wendy");
    await filters.getByLabel("Action").fill("token.create");
    await filters.getByRole("button", { name: "Filter" }).click();
    await adminPage.page.waitForURL(/action=token.create/);
    await adminPage.page.getByRole("cell", { name: "wendy/ci-pull" }).waitFor();
    assert.equal(await adminPage.page.getByRole("row").count(), 2, "one entry (and the header row)");
    await filters.getByLabel("Action").fill("token.revoke");
    await filters.getByRole("button", { name: "Filter" }).click();
    await adminPage.page.waitForURL(/action=token.revoke/);
    await adminPage.page.getByRole("cell", { name: "token.revoke" }).waitFor();
    await adminPage.page.getByRole("cell", { name: "wendy/ci-pull" }).waitFor();
    await filters.getByRole("button", { name: "Clear" }).click();
    await adminPage.page.getByRole("cell", { name: "user.add" }).first().waitFor();
    await checkAxe(adminPage.page, "audit log page");
    await screenshot(adminPage.page, "admin-audit");
    assert.deepEqual(adminPage.problems, []);
    await adminPage.context.close();
  });

  it("an admin makes a token for a user on the admin page: shown once, listed with its owner, revoked with confirmation", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, berth.url, "admin", ADMIN_PASSWORD);
    await page.goto(`${berth.url}/ui/admin/tokens`);
    const form = page.getByRole("form", { name: "Create a robot token" });
    await form.getByLabel("For user").selectOption("wendy");
    await form.getByLabel("Token name").fill("deploy");
    await form.getByLabel("Scopes (one a line)").fill("repository:team/app:pull");
    await form.getByRole("button", { name: "Create token" }).click();
    await page.getByText("Token wendy/deploy created.").waitFor();
    const secret = (await page.getByTestId("token-secret").textContent())!.trim();
    assert.equal((await v2("team/app/manifests/v1", "wendy", secret)).status, 200);
    assert.ok([401, 403].includes((await v2("team/db/manifests/15", "wendy", secret)).status), "narrowed to its scope: team/db is not in it");
    await page.getByRole("button", { name: "Revoke wendy/deploy" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    assert.equal((await v2("team/app/manifests/v1", "wendy", secret)).status, 200, "cancelled: still valid");
    await page.getByRole("button", { name: "Revoke wendy/deploy" }).click();
    await confirmWith(page, "Revoke token");
    await page.getByRole("row", { name: /deploy/ }).getByText("revoked").waitFor();
    assert.equal((await v2("team/app/manifests/v1", "wendy", secret)).status, 401);
    await checkAxe(page, "admin tokens page");
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("a plain user is refused the admin and registry pages, clearly", async () => {
    const { context, page, problems } = await openPage(browser);
    await signIn(page, berth.url, "wendy", WENDY_PASSWORD);
    for (const path of ["/ui/admin/users", "/ui/admin/audit", "/ui/registry"]) {
      await page.goto(`${berth.url}${path}`);
      await page.getByRole("alert").getByText("Not allowed.").waitFor();
      assert.equal(await page.getByRole("table").count(), 0, `${path} shows no data`);
    }
    await checkAxe(page, "refused page");
    const denied = await page.evaluate(async () => (await fetch("/api/v1/users")).status);
    assert.equal(denied, 403, "the API refuses too");
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("a namespace owner manages the members of their namespace only", async () => {
    await createUser(admin, "olga", "olga-password-1");
    await declareNamespace(admin, "olgas", "private", "olga");
    const { context, page, problems } = await openPage(browser);
    await signIn(page, berth.url, "olga", "olga-password-1");
    await page.getByRole("link", { name: "Admin" }).click();
    await page.getByRole("heading", { name: "Admin: Namespaces" }).waitFor();
    assert.deepEqual(await page.getByRole("navigation", { name: "Admin sections" }).getByRole("link").allTextContents(), ["Namespaces"]);
    await page.getByRole("link", { name: "olgas" }).click();
    assert.equal(await page.getByRole("link", { name: "team", exact: true }).count(), 0, "another namespace is not listed");
    const member = page.getByRole("form", { name: "Add a member to olgas" });
    await member.getByLabel("User").fill("wendy");
    await member.getByLabel("Role").selectOption("reader");
    assert.deepEqual(await member.getByLabel("Role").locator("option").allTextContents(), ["reader", "writer", "maintainer"], "owners do not make owners");
    await member.getByRole("button", { name: "Add member" }).click();
    await page.getByText("wendy is now reader of olgas.").waitFor();
    await page.getByLabel("Role of wendy").selectOption("maintainer");
    await page.getByText("wendy is now maintainer of olgas.").waitFor();
    await page.getByRole("button", { name: "Remove wendy from olgas" }).click();
    await confirmWith(page, "Remove member");
    await page.getByText("wendy removed from olgas.").waitFor();
    await checkAxe(page, "namespace owner's members page");

    await page.goto(`${berth.url}/ui/admin/namespaces?ns=team`);
    await page.getByRole("alert").getByText("Not allowed.").waitFor();
    assert.deepEqual((await admin.api("GET", "namespaces/team/members")).json<unknown[]>(), [{ user: "wendy", role: "writer" }], "team is unchanged");
    await page.goto(`${berth.url}/ui/admin/users`);
    await page.getByRole("alert").getByText("Not allowed.").waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });
});
