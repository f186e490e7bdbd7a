// Shared steps of pitcrew's browser tests: start the system's Chromium
// headless through playwright-core, sign in, take screenshots, and check
// what a page shows. Each test script exports nothing; it runs, prints
// one line per step, and exits non-zero on the first failed check.
"use strict";
const assert = require("node:assert/strict");
const path = require("node:path");
const { chromium } = require("playwright-core");

const BASE = process.env.BASE_URL;
const SHOTS = process.env.SCREENSHOT_DIR;

async function open() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    // No network beyond the machine: Chromium's own background traffic is off.
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    // Charts draw at once, so screenshots show their final state.
    reducedMotion: "reduce",
  });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`script error: ${e.message}`));
  page.on("response", (r) => {
    if (r.status() >= 500) problems.push(`${r.status()} from ${r.url()}`);
  });
  page.on("requestfailed", (r) => {
    // Only pitcrew itself is ever asked for anything.
    if (!r.url().startsWith(BASE)) problems.push(`left the machine: ${r.url()}`);
  });
  return { browser, page, problems };
}

async function signIn(page, email, password) {
  await page.goto(`${BASE}/`);
  assert.match(page.url(), /\/login/, "a signed-out visitor is sent to sign in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${BASE}/`);
}

async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${file}`);
}

function step(text) {
  console.log(`step: ${text}`);
}

async function run(body) {
  const session = await open();
  try {
    await body(session);
    assert.deepEqual(session.problems, [], "no server errors, script errors or outside requests");
    console.log("ok");
  } catch (e) {
    console.error(e.stack || String(e));
    try { await shot(session.page, "failure"); } catch (_) { /* the page may be gone */ }
    process.exitCode = 1;
  } finally {
    await session.browser.close();
  }
}

module.exports = { assert, BASE, open, signIn, shot, step, run };
