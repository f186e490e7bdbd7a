// A new user's first day, in the browser: from the data model to a sent
// broadcast and its results. Each step checks what the page says.
"use strict";
const { assert, BASE, signIn, shot, step, run } = require("./lib.cjs");

const CSV = [
  "email,first_name,last_name,favourite_track",
  "ayrton@pitlane.example,Ayrton,Silva,Monza",
  "not-an-email,Broken,Row,Spa",
  "niki@pitlane.example,Niki,Lauder,Monza",
  "jackie@pitlane.example,Jackie,Stuart,Silverstone",
].join("\n");

run(async ({ page }) => {
  const text = async (selector) => (await page.locator(selector).innerText()).replace(/\s+/g, " ");

  step("sign in with the demo's owner");
  await signIn(page, process.env.EMAIL, process.env.PASSWORD);

  // ---- data model -------------------------------------------------------
  step("add a custom field from the data model");
  await page.getByRole("link", { name: "Data model", exact: true }).click();
  await page.getByRole("link", { name: "Add a field" }).click();
  await page.getByLabel("People (contacts)").check();
  await page.getByLabel("Label").fill("Favourite track");
  await page.getByLabel("Key").fill("favourite_track");
  await page.getByRole("button", { name: "Add the field" }).click();
  await page.waitForURL(/\/fields/);
  assert.match(await text("main"), /Favourite track/);
  assert.match(await text("main"), /favourite_track/);
  await shot(page, "1-field-added");

  // ---- import ------------------------------------------------------------
  step("upload a CSV with one bad row; the new field is suggested for its column");
  await page.getByRole("link", { name: "Imports", exact: true }).click();
  await page.getByRole("link", { name: "New import" }).first().click();
  await page.getByLabel("Contacts (people)").check();
  await page.getByLabel("CSV file").setInputFiles({
    name: "pit-lane.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(CSV),
  });
  await page.getByRole("button", { name: "Upload and map the columns" }).click();
  await page.waitForURL(/\/imports\/uploads\//);
  assert.match(await text("h1"), /pit-lane\.csv/);
  const track = page.getByLabel("favourite_track", { exact: true });
  assert.equal(await track.inputValue(), "favourite_track", "the column maps to the new field");
  await shot(page, "2-import-mapping");

  step("a dry run says what would happen and writes nothing");
  await page.getByRole("button", { name: /Dry run/ }).click();
  await page.locator("#dry-run").waitFor();
  await page.getByText("Dry run finished").waitFor();
  const dry = await text("#dry-run");
  assert.match(dry, /Would create 3/, dry);
  assert.match(dry, /Would reject 1/, dry);
  assert.match(dry, /not-an-email/, dry);

  step("the import runs, shows its progress, and reports the bad row by line");
  await page.getByRole("button", { name: "Import now" }).click();
  await page.waitForURL(/\/imports\/\d+$/);
  await page.getByText("Import finished.").waitFor({ timeout: 30000 });
  const result = await text("main");
  assert.match(result, /Created 3/, result);
  assert.match(result, /Rejected 1/, result);
  const bad = page.locator("table.rejects tbody tr").first();
  assert.match(await bad.innerText(), /^3\s/, "the bad row is line 3 (line 1 is the header)");
  assert.equal(await page.getByRole("link", { name: /Download the rejects report/ }).count(), 1);
  await shot(page, "3-import-result");

  // ---- segment -------------------------------------------------------------
  step("write a segment: a typo is underlined, the fixed condition is counted");
  await page.getByRole("link", { name: "Segments", exact: true }).click();
  await page.getByRole("link", { name: "New segment" }).click();
  await page.getByLabel("Name", { exact: true }).fill("Monza fans");
  const condition = page.getByRole("textbox", { name: "Condition" });
  await condition.fill("");
  await condition.pressSequentially('people where favourit_track is "Monza"', { delay: 5 });
  await page.locator("#check mark.problem").waitFor();
  assert.match(await text("#check"), /Line 1, column 14/);
  await shot(page, "4-segment-typo");
  await condition.fill('people where favourite_track is "Monza"');
  await page.locator("#check .live-count").waitFor();
  assert.equal(await text("#check .live-count"), "2");
  assert.match(await text("#check"), /2 people match it now/);
  await shot(page, "5-segment-count");
  await page.getByRole("button", { name: "Save segment" }).click();
  await page.waitForURL(/\/segments\/\d+$/);
  assert.equal(await text("h1"), "Monza fans");

  // ---- a contact and why -------------------------------------------------
  step("open a member, and ask why they are in the segment");
  await page.locator("table.members tbody a").first().click();
  await page.waitForURL(/\/people\/\d+$/);
  assert.match(await text("h1"), /Ayrton Silva|Niki Lauder/);
  assert.match(await text("main"), /Monza/);
  const spills = await page.locator("section.card").evaluateAll((cards) =>
    cards.filter((c) => c.scrollWidth > c.clientWidth).map((c) => c.innerText.slice(0, 40)),
  );
  assert.deepEqual(spills, [], "every card holds its content at 1280px");
  await page.getByRole("link", { name: /Why is .* in Monza fans\?/ }).click();
  const why = page.locator(".why-slot").filter({ hasText: /favourite_track/ });
  await why.waitFor();
  assert.match(await why.innerText(), /Monza/);
  await shot(page, "6-contact-why");

  // ---- broadcast -----------------------------------------------------------
  step("write a broadcast to an existing segment, without an unsubscribe link");
  await page.getByRole("link", { name: "Broadcasts", exact: true }).click();
  await page.getByRole("link", { name: "New broadcast" }).first().click();
  await page.getByLabel("Name", { exact: true }).fill("Pit lane welcome");
  await page.getByLabel("Subject line").fill("Welcome to the pit lane");
  await page.getByLabel("From name").fill("Demo Company");
  await page.getByLabel("From address").fill("news@demo-company.example");
  await page.getByLabel("Subscription topic").selectOption({ label: "Newsletter" });
  await page
    .getByRole("group", { name: "Send to people in" })
    .getByRole("checkbox", { name: /^DACH \(/ })
    .check();
  await page.getByLabel("Sending provider").selectOption({ index: 1 });
  await page.getByLabel("Written in").selectOption("html");
  const body = page.getByLabel("Body", { exact: true });
  await body.fill("<p>Hello {{ contact.first_name | default('there') }},</p>\n<p>See you in the pit lane.</p>\n<p>{{ postal_address }}</p>");
  await page.getByRole("button", { name: "Save draft" }).click();
  await page.waitForURL(/\/broadcasts\/\d+$/);
  const broadcastUrl = page.url();

  step("the checks block it for the missing unsubscribe link, and Send is disabled");
  const blocking = page.locator("ul.checks li.check-blocking");
  assert.ok((await blocking.count()) >= 1, "a blocking item");
  assert.match(await blocking.allInnerTexts().then((t) => t.join(" ")), /unsubscribe/i);
  assert.equal(await page.locator("#start-button").isDisabled(), true);
  await shot(page, "7-broadcast-blocked");

  step("add the unsubscribe link; the checks pass");
  await page.getByRole("link", { name: "Edit the draft" }).click();
  await page.getByLabel("Body", { exact: true }).fill(
    "<p>Hello {{ contact.first_name | default('there') }},</p>\n<p>See you in the pit lane.</p>\n" +
      "<p>{{ postal_address }} · <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>",
  );
  await page.getByRole("button", { name: "Save draft" }).click();
  await page.waitForURL(broadcastUrl);
  assert.equal(await page.locator("ul.checks li.check-blocking").count(), 0, await text("ul.checks"));
  const approve = page.getByRole("button", { name: "Approve this broadcast" });
  if ((await approve.count()) > 0) {
    step("a large send needs an admin's approval: the owner approves");
    await approve.click();
    await page.waitForURL(broadcastUrl);
    assert.match(await text("main"), /Approved by/);
  }
  assert.equal(await page.locator("#start-button").isDisabled(), false);
  await shot(page, "8-broadcast-ready");

  step("send it, and follow the progress until everyone is done");
  await page.locator("#start-button").click();
  await page.waitForURL(broadcastUrl);
  const deadline = Date.now() + 120000;
  for (;;) {
    await page.reload();
    const status = (await text(".page-head .badge")).trim();
    if (status === "sent") break;
    assert.ok(Date.now() < deadline, `still ${status} after two minutes`);
    await page.waitForTimeout(1000);
  }

  step("the results page shows what was sent, the chart, and who was skipped");
  await page.goto(`${broadcastUrl}/results`);
  assert.match(await text("h1"), /Results of Pit lane welcome/);
  const numbers = await text("ul.stats");
  const sent = /([\d,]+) sent/.exec(numbers);
  assert.ok(sent, `a sent count: ${numbers}`);
  assert.ok(Number(sent[1].replace(/,/g, "")) > 0);
  const chart = page.locator("#broadcast-chart");
  await chart.waitFor();
  const drawn = await chart.evaluate((c) => c.width > 0 && c.height > 0);
  assert.ok(drawn, "the chart is drawn");
  assert.match(await text("main"), /Who was skipped, and why/);
  await shot(page, "9-results");
  console.log(`sent: ${sent[1]}`);
});
