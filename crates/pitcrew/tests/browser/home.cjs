// A newcomer signs in to the demo and looks around the home page.
"use strict";
const { assert, signIn, shot, step, run } = require("./lib.cjs");

run(async ({ page }) => {
  step("sign in with the demo's owner");
  await signIn(page, process.env.EMAIL, process.env.PASSWORD);
  await shot(page, "home");

  step("the home page greets the owner and names the workspace");
  assert.equal(await page.locator("h1").innerText(), "Welcome, Olivia Owner");
  assert.match(await page.locator(".lead").innerText(), /Demo Company/);

  step("the tiles count what the demo holds");
  const tiles = await page.locator(".tiles li").allInnerTexts();
  assert.ok(tiles.some((t) => /3,000\s+people/.test(t)), `people tile: ${tiles}`);
  assert.ok(tiles.some((t) => /300\s+accounts/.test(t)), `accounts tile: ${tiles}`);

  step("the latest broadcasts show the October newsletter's results");
  const row = page.getByRole("row", { name: /October newsletter/ });
  await row.waitFor();
  assert.match(await row.innerText(), /sent\s+2,175/);

  step("the navigation names the parts that exist, and marks Home");
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const name of ["People", "Accounts", "Data model", "Imports", "Data health", "Segments", "Broadcasts", "Audit log"]) {
    assert.equal(await nav.getByRole("link", { name, exact: true }).count(), 1, name);
  }
  assert.equal(await nav.locator('[aria-current="page"]').innerText(), "Home");

  step("the keyboard reaches the skip link first, and it moves focus to the content");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Skip to content");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "main");

  step("signing out ends the session");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/login/);
  await page.goto(process.env.BASE_URL + "/");
  assert.match(page.url(), /\/login\?next=%2F/);
});
