import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { startBerth, type TestBerth } from "../helpers/berth.js";
import { checkAxe, launchBrowser, openPage, screenshot, signIn, skipUnlessBrowser } from "../helpers/browser.js";

const ADMIN_PASSWORD = "admin-password-1";

describe("web UI: signing in", { skip: skipUnlessBrowser() }, () => {
  let berth: TestBerth;
  let browser: Browser;
  before(async () => {
    berth = await startBerth({ BERTH_AUTH: "true", BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
  });

  it("a browser opening / lands on the UI, served with a strict Content-Security-Policy", async () => {
    const { context, page, problems } = await openPage(browser);
    const response = await page.goto(`${berth.url}/`);
    assert.equal(new URL(page.url()).pathname, "/ui/");
    const csp = response!.headers()["content-security-policy"] ?? "";
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await page.getByRole("banner").getByRole("link", { name: "Sign in" }).waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("API clients asking for / still get the registry's JSON error, not the UI", async () => {
    const res = await fetch(`${berth.url}/`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get("content-type") ?? "", /json/);
  });

  it("a wrong password is refused on the page; the right one signs in with an HttpOnly, SameSite=Strict cookie", async () => {
    const { context, page, problems } = await openPage(browser);
    await page.goto(`${berth.url}/ui/sign-in`);
    await checkAxe(page, "sign-in page");
    await screenshot(page, "sign-in");
    await page.getByLabel("User").fill("admin");
    await page.getByLabel("Password or robot token").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").getByText("Wrong user name or password.").waitFor();

    await signIn(page, berth.url, "admin", ADMIN_PASSWORD);
    const [cookie] = (await context.cookies()).filter((c) => c.name === "berth_session");
    assert.ok(cookie, "the session cookie is set");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Strict");
    assert.equal(await page.evaluate(() => document.cookie), "", "scripts on the page cannot read the session");
    await page.getByRole("link", { name: "Admin" }).waitFor();

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal((await context.cookies()).filter((c) => c.name === "berth_session" && c.value !== "").length, 0);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it("the session cookie alone cannot change anything: a change without the page's CSRF token is refused", async () => {
    const { context, page } = await openPage(browser);
    await signIn(page, berth.url, "admin", ADMIN_PASSWORD);
    const status = await page.evaluate(async () => {
      const res = await fetch("/api/v1/users", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "mallory", password: "mallory-pass-1" }) });
      return res.status;
    });
    assert.equal(status, 403);
    const users = (await (await page.request.get(`${berth.url}/api/v1/users`)).json()) as { name: string }[];
    assert.deepEqual(users.map((u) => u.name), ["admin"]);
    await context.close();
  });
});

describe("web UI without access control", { skip: skipUnlessBrowser() }, () => {
  let berth: TestBerth;
  let browser: Browser;
  before(async () => {
    berth = await startBerth();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await berth?.stop();
  });

  it("shows the registry with no sign-in, saying access control is off", async () => {
    const { context, page, problems } = await openPage(browser, { width: 375, colorScheme: "dark" });
    await page.goto(`${berth.url}/ui/`);
    await page.getByText("Access control is off").waitFor();
    assert.equal(await page.getByRole("link", { name: "Sign in" }).count(), 0);
    await checkAxe(page, "repositories page, dark, phone width");
    assert.deepEqual(problems, []);
    await context.close();
  });
});
