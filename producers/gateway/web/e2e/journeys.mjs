// Browser journeys of Strike's web UI, one per demo user, plus the cross-tenant attempts.
// Run by TestBrowserJourneys (producers/gateway/web/browser_test.go), which starts a gateway on
// real PostgreSQL with the demo world and passes its address and the demo data in a JSON file:
//
//   node journeys.mjs /path/to/config.json
//
// playwright-core drives Debian's Chromium (/usr/bin/chromium); no browser is downloaded.
// Every failed expectation throws; the exit status is what the Go test asserts.
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const base = cfg.base_url;
const user = (what) => cfg.users.find((u) => u.what === what);
const shots = cfg.screenshots_dir || "";
if (shots) mkdirSync(shots, { recursive: true });

// launch() runs Chromium with a fresh temporary profile of its own (and refuses
// --user-data-dir), so no state leaks between runs.
const browser = await chromium.launch({
  executablePath: cfg.chromium,
  headless: true,
  // Without the background-networking flags Chromium floods a closed network with requests.
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

let failures = 0;
async function journey(name, fn, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(5000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error" && !/EventSource|ERR_ABORTED|net::|Failed to load resource/.test(m.text())) errors.push(m.text()); });
  const started = Date.now();
  try {
    await fn(page, context);
    assert.deepEqual(errors, [], "the page logged errors");
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
    try { await page.screenshot({ path: join(tmpdir(), `strike-fail-${name.replace(/\W+/g, "-")}.png`) }); } catch {}
  } finally {
    await context.close();
  }
}

// a11y checks what a page shows: every form control has a label, and every piece of text has
// WCAG AA contrast against the background it is drawn on (4.5:1, 3:1 for large text).
async function a11y(page, name) {
  const problems = await page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
      if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label")) out.push(`unlabelled ${el.outerHTML.slice(0, 80)}`);
    }
    const rgb = (c) => { const m = c.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
    const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
    const bg = (el) => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.a > 0.5) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || seen.has(el)) continue;
      seen.add(el);
      const st = getComputedStyle(el);
      if (st.visibility === "hidden" || st.display === "none" || el.closest(".vh, .skip")) continue;
      const fg = rgb(st.color), b = bg(el);
      const [l1, l2] = [lum(fg), lum(b)].sort((x, y) => y - x);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
      const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
      if (ratio < need) out.push(`contrast ${ratio.toFixed(2)} < ${need}: "${n.textContent.trim().slice(0, 40)}"`);
    }
    return out;
  });
  assert.deepEqual(problems, [], `accessibility of ${name}`);
}

async function shot(page, name) {
  await a11y(page, name);
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function signIn(page, u) {
  await page.goto(base + "/");
  assert.match(page.url(), /\/signin\?next=/, "a signed-out visit goes to the sign-in page");
  await page.getByLabel("Email").fill(u.email);
  await page.getByLabel("Password").fill(u.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/signin"));
}

const path = (page) => new URL(page.url()).pathname;
const rowsText = async (page) => (await page.locator("#rows").innerText());

// A page the user may not see: the forbidden page, identical (bar the URL) for a tenant that
// exists and one that does not.
async function forbiddenSame(page, existing, absent) {
  const a = await page.goto(base + existing);
  assert.equal(a.status(), 403, `${existing} is forbidden`);
  await page.getByTestId("forbidden").waitFor();
  const first = await page.locator("main").innerHTML();
  const b = await page.goto(base + absent);
  assert.equal(b.status(), 403, `${absent} is forbidden`);
  assert.equal(await page.locator("main").innerHTML(), first, `${existing} and ${absent} look the same`);
}

await journey("sign-in page and a wrong password", async (page) => {
  await page.goto(base + "/signin");
  await shot(page, "signin");
  await page.getByLabel("Email").fill(user("single-NOC operator").email);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signin-error").waitFor();
  assert.match(await page.getByTestId("signin-error").innerText(), /email or password is wrong/);
});

await journey("single-NOC operator: board, filters, ECO, live updates, create, cancel, sign out", async (page, context) => {
  const u = user("single-NOC operator");
  await signIn(page, u);
  assert.equal(path(page), "/nocs/noc-northwind/ecos", "one tenant lands on its board");
  assert.equal(await page.getByTestId("active-tenant").innerText(), "Northwind Networks NOC");
  const rows = await rowsText(page);
  for (const e of cfg.ecos.northwind) assert.ok(rows.includes(e.job_number) || e.rejected, `board shows ${e.job_number}`);
  for (const e of cfg.ecos.harbor) assert.ok(!rows.includes(e.job_number), `board hides Harbor's ${e.job_number}`);
  assert.equal(await page.locator(".switcher details").count(), 0, "one tenant: no switcher");
  await shot(page, "noc-board");

  // Filter by status, then search by job number, with the keyboard only.
  await page.getByLabel("Status").selectOption("accepted");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/status=accepted/);
  const statuses = await page.locator("#rows .status").allInnerTexts();
  assert.ok(statuses.length > 0 && statuses.every((s) => s === "accepted"), `only accepted rows: ${statuses}`);
  await page.getByRole("link", { name: "Clear" }).click();
  const target = cfg.ecos.northwind[0];
  await page.getByLabel("Search").focus();
  await page.keyboard.type(target.job_number);
  await page.keyboard.press("Enter");
  await page.waitForURL(/q=/);
  assert.equal(await page.locator("#rows tr").count(), 1, "search finds one ECO");

  // The ECO page: timeline, calls, acceptances with the late one, field status.
  await page.getByRole("link", { name: target.job_number }).click();
  await page.waitForURL(new RegExp(target.eco_id));
  assert.equal(await page.getByTestId("eco-status").innerText(), "accepted");
  assert.match(await page.getByTestId("field-status").innerText(), /on site/);
  const acc = await page.locator("ul.acc").innerText();
  assert.match(acc, /Contact 2/);
  assert.match(acc, /Contact 3[^\n]*late/);
  assert.equal(await page.locator("table.calls tbody tr").count(), 3, "three call attempts");
  assert.match(await page.locator("ol.timeline").innerText(), /Late acceptance/);
  await shot(page, "eco");

  // Live: an ECO projected while the board is open appears, then its call, its acceptance and
  // its field status, without a reload.
  await page.goto(base + "/nocs/noc-northwind/ecos");
  await page.locator("#live-state").filter({ hasText: "Live" }).waitFor();
  const live = await (await fetch(cfg.control_url + "/project?step=created", { method: "POST" })).json();
  await page.locator("#rows tr", { hasText: live.job_number }).waitFor();
  await fetch(cfg.control_url + "/project?step=placed", { method: "POST" });
  await page.locator("#rows tr", { hasText: live.job_number }).filter({ hasText: "ringing" }).waitFor();
  await fetch(cfg.control_url + "/project?step=accepted", { method: "POST" });
  await page.locator("#rows tr", { hasText: live.job_number }).filter({ hasText: "Contact 1" }).waitFor();
  await fetch(cfg.control_url + "/project?step=field", { method: "POST" });
  await page.locator("#rows tr", { hasText: live.job_number }).filter({ hasText: "dispatched" }).waitFor();

  // Create an ECO: the form shows the policy and Strike's bounds; the browser enforces them.
  await page.getByRole("link", { name: "Create ECO" }).click();
  await page.waitForURL(/\/ecos\/new$/);
  assert.match(await page.getByTestId("policy").innerText(), /2 passes through the roster/);
  assert.equal(await page.getByLabel(/Passes through the roster/).getAttribute("max"), "5");
  await page.getByLabel("OSP").selectOption("osp-acme");
  await page.getByLabel("Region").fill("metro-north");
  await page.getByLabel("Priority").selectOption("P1");
  await page.getByLabel("Site name").fill("Exchange 12");
  await page.getByLabel("Summary").fill(cfg.create_summary);
  await page.getByLabel(/Passes through the roster/).fill("9");
  await page.getByRole("button", { name: "Create ECO" }).click();
  assert.ok(path(page).endsWith("/new"), "a loop count over the bound is stopped in the browser");
  assert.equal(await page.getByLabel(/Passes through the roster/).evaluate((el) => el.validity.rangeOverflow), true);
  await shot(page, "create-eco");
  await page.getByLabel(/Passes through the roster/).fill("3");
  await page.getByRole("button", { name: "Create ECO" }).click();
  await page.getByTestId("requested").waitFor();
  assert.equal(path(page), "/nocs/noc-northwind/ecos");

  // Cancel a ringing ECO.
  const ringing = cfg.ecos.northwind.find((e) => e.name === "nw-acme-2");
  await page.goto(base + "/nocs/noc-northwind/ecos/" + ringing.eco_id);
  // Steer it first: the NOC's controls only (people needed, passes, stop).
  assert.equal(await page.getByRole("button", { name: "Call next" }).count(), 0, "the OSP's controls are not the NOC's");
  await page.getByLabel(/People needed \(/).fill("2");
  await page.getByRole("button", { name: "Set people needed" }).click();
  await page.getByTestId("control-queued").waitFor();
  await shot(page, "eco-steer");
  await page.getByLabel("Reason for cancelling").fill(cfg.cancel_reason);
  await page.getByRole("button", { name: "Cancel this ECO" }).click();
  await page.getByTestId("cancel-requested").waitFor();

  // Cross-tenant: another NOC, an OSP, an ECO of another NOC, the admin area.
  await forbiddenSame(page, "/nocs/noc-harbor/ecos", "/nocs/noc-nowhere/ecos");
  await forbiddenSame(page, "/nocs/noc-harbor/ecos/" + cfg.ecos.harbor[0].eco_id, "/nocs/noc-nowhere/ecos/" + cfg.ecos.harbor[0].eco_id);
  await forbiddenSame(page, "/osps/osp-acme/ecos", "/osps/osp-nowhere/ecos");
  await shot(page, "forbidden");
  const adm = await page.goto(base + "/admin");
  assert.equal(adm.status(), 403);
  await page.getByTestId("forbidden").waitFor();
  // Another NOC's ECO under my own NOC is simply not there.
  const nf = await page.goto(base + "/nocs/noc-northwind/ecos/" + cfg.ecos.harbor[0].eco_id);
  assert.equal(nf.status(), 404);

  // Sign out: the board is behind sign-in again, and the old cookie is dead.
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "strike_session");
  assert.ok(session && session.httpOnly && session.sameSite === "Lax", "HttpOnly SameSite=Lax session cookie");
  await page.goto(base + "/nocs/noc-northwind/ecos");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/signin$/);
  await context.addCookies([session]);
  await page.goto(base + "/nocs/noc-northwind/ecos");
  assert.match(page.url(), /\/signin\?next=/, "the old session cookie no longer signs in");
});

await journey("multi-NOC operator: chooser, switching tenants without leaking context", async (page) => {
  await signIn(page, user("multi-NOC operator"));
  assert.equal(path(page), "/tenants", "several tenants land on the chooser");
  await shot(page, "chooser");
  await page.getByRole("link", { name: /Harbor Telecom NOC/ }).click();
  await page.waitForURL(/\/nocs\/noc-harbor\/ecos$/);
  assert.equal(await page.getByTestId("active-tenant").innerText(), "Harbor Telecom NOC");
  let rows = await rowsText(page);
  assert.ok(rows.includes(cfg.ecos.harbor[0].job_number));
  for (const e of cfg.ecos.northwind) assert.ok(!rows.includes(e.job_number), `Harbor's board hides ${e.job_number}`);
  // A search on Harbor's board stays on Harbor's board: switching starts clean.
  await page.getByLabel("Search").fill("fibre");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/q=fibre/);
  await page.getByText("Switch tenant").click();
  await page.getByRole("link", { name: /Northwind Networks NOC/ }).click();
  await page.waitForURL((url) => url.pathname === "/nocs/noc-northwind/ecos" && url.search === "");
  assert.equal(await page.getByTestId("active-tenant").innerText(), "Northwind Networks NOC");
  assert.equal(await page.getByLabel("Search").inputValue(), "");
  rows = await rowsText(page);
  assert.ok(!rows.includes(cfg.ecos.harbor[0].job_number), "Northwind's board hides Harbor's ECO");
  await forbiddenSame(page, "/osps/osp-acme/ecos", "/osps/osp-nowhere/ecos");
});

await journey("OSP agent: work across NOCs with provenance, read-only", async (page) => {
  await signIn(page, user("OSP agent"));
  assert.equal(path(page), "/osps/osp-acme/ecos");
  const rows = await rowsText(page);
  assert.ok(rows.includes("from noc-northwind") && rows.includes("from noc-harbor"), "each ECO shows the NOC that created it");
  for (const e of cfg.ecos.rejected) assert.equal(await page.locator(`tr[data-eco="${e.eco_id}"]`).count(), 0, "a rejected request is the NOC's only");
  assert.equal(await page.getByRole("link", { name: "Create ECO" }).count(), 0, "no Create ECO for an agent");
  await shot(page, "osp-board");
  await page.getByRole("link", { name: cfg.ecos.harbor[0].job_number }).click();
  await page.getByTestId("eco-status").waitFor();
  assert.equal(await page.getByRole("button", { name: "Cancel this ECO" }).count(), 0, "an agent cannot cancel");
  await forbiddenSame(page, "/nocs/noc-northwind/ecos", "/nocs/noc-nowhere/ecos");
  await forbiddenSame(page, "/osps/osp-bolt/ecos", "/osps/osp-nowhere/ecos");
  const res = await page.goto(base + "/nocs/noc-northwind/ecos/new");
  assert.equal(res.status(), 403);
  // Rosters: an agent reads them.
  await page.goto(base + "/osps/osp-acme/ecos");
  await page.getByRole("link", { name: "Rosters" }).click();
  await page.getByRole("link", { name: "metro-north" }).click();
  assert.match(await page.getByTestId("roster").innerText(), /Ada Lovelace/);
  assert.equal(await page.getByRole("button", { name: "Save roster" }).count(), 0, "an agent cannot edit a roster");
  // The demo's metro-south roster: someone on leave now, and who stands in.
  await page.goto(base + "/osps/osp-acme/rosters/metro-south");
  assert.match(await page.getByTestId("roster").innerText(), /Mary Jackson[^\n]*leave until[^\n]*substitute Barbara Liskov/);
});

await journey("OSP admin: edits the OSP's roster, E.164 checked", async (page) => {
  await signIn(page, user("OSP admin"));
  assert.equal(path(page), "/osps/osp-acme/ecos");
  await page.getByRole("link", { name: "Rosters" }).click();
  await page.getByTestId("rosters").waitFor();
  await shot(page, "rosters");
  await page.getByRole("link", { name: "metro-north" }).click();
  await page.getByRole("button", { name: "Save roster" }).waitFor();
  await page.getByLabel("Order of row 4").fill("4");
  await page.getByLabel("Name of row 4").fill("Dorothy Vaughan");
  await page.getByLabel("Phone of row 4").fill("555 0104");
  await page.getByRole("button", { name: "Save roster" }).click();
  assert.equal(await page.getByLabel("Phone of row 4").evaluate((el) => el.validity.patternMismatch), true, "the browser refuses a number that is not E.164");
  await page.getByLabel("Phone of row 4").fill("+15550101004");
  // Ada is away for two days with a substitute; the roster shares overtime.
  await page.getByLabel("Who is called first").selectOption("after_last_accepted");
  await page.getByLabel("Person away, window 1").selectOption("+15550101001");
  await page.getByLabel("Away from, window 1").fill("2030-06-01T08:00");
  await page.getByLabel("Away until, window 1").fill("2030-06-03T08:00");
  await page.getByLabel("Reason, window 1").selectOption("on_job");
  await page.getByLabel("Substitute name, window 1").fill("Barbara Liskov");
  await page.getByLabel("Substitute phone, window 1").fill("+15550101009");
  await shot(page, "roster-edit");
  await page.getByRole("button", { name: "Save roster" }).click();
  await page.getByTestId("roster-saved").waitFor();
  assert.equal(await page.getByLabel("Name of row 4").inputValue(), "Dorothy Vaughan");
  assert.equal(await page.getByLabel("Phone of row 4").inputValue(), "+15550101004");
  assert.equal(await page.getByLabel("Who is called first").inputValue(), "after_last_accepted");
  assert.equal(await page.getByLabel("Person away, window 1").inputValue(), "+15550101001");
  assert.equal(await page.getByLabel("Away until, window 1").inputValue(), "2030-06-03T08:00");
  assert.equal(await page.getByLabel("Substitute name, window 1").inputValue(), "Barbara Liskov");
  // A steered ECO: why each person was or was not called, and the timeline in words.
  await page.goto(base + "/osps/osp-acme/ecos/" + cfg.steered.eco_id);
  const people = await page.getByTestId("people").innerText();
  // In the timeline's words, not as codes.
  assert.match(people, /Contact 1[^\n]*\n?[^\n]*skipped, away, substituted by Sam Substitute/);
  assert.match(people, /Contact 3[^\n]*\n?[^\n]*skipped, bypassed by a dispatcher/);
  assert.match(people, /Contact 4[^\n]*added for this ECO/);
  assert.doesNotMatch(people, /not on the roster/);
  const tl = await page.locator("ol.timeline").innerText();
  for (const want of [/Skipped Contact 1: away, substituted by Sam Substitute/, /Skipped Contact 3: bypassed by a dispatcher/,
    /Control applied skip — by Oscar \(Acme admin\)/, /Control refused set people needed — by Nina \(Northwind operator\) \(noc-northwind\): outside Strike's bounds/,
    /Call-in Contact 2 called back: place held/]) assert.match(tl, want);
  assert.doesNotMatch(tl, /callout control|contact skipped|callout callin/);
  await shot(page, "eco-people");
  await forbiddenSame(page, "/osps/osp-bolt/rosters/metro-north", "/osps/osp-nowhere/rosters/metro-north");
});

await journey("system admin: system configuration, tenant boards by the explicit check", async (page) => {
  await signIn(page, user("system admin"));
  assert.equal(path(page), "/admin", "a system admin without memberships lands on the admin area");
  await page.getByRole("heading", { name: "System configuration" }).waitFor();
  const nocs = await page.getByTestId("admin-nocs").innerText();
  assert.match(nocs, /AC00000000000000000000000000000a01/);
  assert.match(nocs, /Strike-owned, NOC-scoped/);
  const osps = await page.getByTestId("admin-osps").innerText();
  assert.match(osps, /ACME-(HRBR|NWND)-00001-\d{4}/, "the next job number is previewed");
  assert.match(await page.getByTestId("admin-links").innerText(), /suspended/);
  await shot(page, "admin");
  // A job template is validated and previewed before it is saved.
  await page.getByRole("link", { name: "Cedar Line Works", exact: true }).click();
  await page.getByLabel("Job template").fill("{prefix}-{nope}");
  await page.getByRole("button", { name: "Preview" }).click();
  await page.getByTestId("osp-error").waitFor();
  await page.getByLabel("Job template").fill("{prefix}-{noc}-{num:4}");
  await page.getByRole("button", { name: "Preview" }).click();
  assert.equal(await page.getByTestId("osp-preview").innerText(), "CEDR-HRBR-0001");
  await shot(page, "admin-osp");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByTestId("admin-saved").waitFor();
  assert.match(await page.getByTestId("admin-osps").innerText(), /CEDR-HRBR-0001/);
  // A NOC's Strike-owned Twilio context and its callout policy.
  await page.getByRole("link", { name: "Northwind Networks NOC", exact: true }).click();
  await page.getByRole("group", { name: /Strike-owned, NOC-scoped/ }).waitFor();
  await shot(page, "admin-noc");
  await page.getByLabel("Passes through the roster").fill("3");
  await page.getByRole("button", { name: "Save policy" }).click();
  await page.getByTestId("admin-saved").waitFor();
  assert.match(await page.getByTestId("admin-nocs").innerText(), /3 passes/);
  // Tenant boards open to a system admin by the explicit check.
  await page.getByRole("link", { name: "Harbor Telecom NOC board" }).click();
  await page.waitForURL(/\/nocs\/noc-harbor\/ecos$/);
  assert.ok((await rowsText(page)).includes(cfg.ecos.harbor[0].job_number));
});

await journey("user without memberships: no access yet", async (page) => {
  await signIn(page, user("no memberships"));
  await page.getByTestId("no-access").waitFor();
  await shot(page, "no-access");
  const res = await page.goto(base + "/nocs/noc-northwind/ecos");
  assert.equal(res.status(), 403);
  await page.getByTestId("no-access").waitFor();
});

await journey("phone width: the board and an ECO at 390 px", async (page) => {
  await signIn(page, user("single-NOC operator"));
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no horizontal scrolling at phone width (page is ${width} px)`);
  await shot(page, "phone-board");
  await page.getByRole("link", { name: cfg.ecos.northwind[0].job_number }).click();
  await page.getByTestId("eco-status").waitFor();
  await shot(page, "phone-eco");
}, { width: 390, height: 844 });

await journey("keyboard: skip link and visible focus", async (page) => {
  await signIn(page, user("single-NOC operator"));
  await page.keyboard.press("Tab");
  const skip = await page.evaluate(() => document.activeElement.textContent);
  assert.equal(skip, "Skip to content");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "main");
});

await browser.close();
if (failures) {
  console.log(`${failures} journey(s) failed`);
  process.exit(1);
}
