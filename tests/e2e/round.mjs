// Opens several headless-Chromium tabs (each its own browser context: its own IndexedDB and
// device key) on the demo page, and in each analyses the favourites, trains on the device and
// joins the coordinator's current federated round through the page's "Train on this device and
// join the round" button (the Worker runs the wasm RoundClient).
// Usage: node round.mjs --url http://127.0.0.1:PORT --favourites FILE --tabs N --out DIR
// Prints one JSON line with each tab's round status; exits non-zero on any failure.
import { arg, launchChromium } from "./support.mjs";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";


const url = arg("url");
const favourites = readFileSync(arg("favourites"), "utf8");
const tabs = Number(arg("tabs"));
const out = arg("out");
mkdirSync(out, { recursive: true });

const browser = await launchChromium();
const errors = [];
try {
  const pages = [];
  for (let t = 0; t < tabs; t++) {
    const context = await browser.newContext({ viewport: { width: 1000, height: 1400 } });
    const page = await context.newPage();
    page.on("pageerror", (error) => errors.push(`tab ${t}: ${error.message}`));
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById("status").textContent === "ready", null, { timeout: 60000 });
    // Each tab a slightly different person: drop one favourite in turn.
    const lines = favourites.trim().split("\n").filter((_, i) => i !== t);
    await page.fill("#favourites", lines.join("\n"));
    await page.click("#analyse");
    await page.waitForSelector("#round-box:not([hidden])");
    pages.push(page);
  }
  // All tabs join at once; the round closes its phases when every client has answered.
  await Promise.all(pages.map((page) => page.click("#join-round")));
  const statuses = await Promise.all(pages.map(async (page, t) => {
    await page.waitForFunction(
      () => /^(Round \d+:|Not part of a round)/.test(document.getElementById("round-status").textContent),
      null,
      { timeout: 120000 },
    );
    await page.screenshot({ path: join(out, `round-tab-${t + 1}.png`), fullPage: true });
    return {
      status: (await page.textContent("#round-status")).trim(),
      progress: await page.$eval("#round-progress", (p) => p.value / p.max),
      facts: await page.$$eval("#round-facts:not([hidden]) dd", (items) => items.map((i) => i.textContent)),
    };
  }));
  if (errors.length) throw new Error(errors.join("\n"));
  console.log(JSON.stringify({ statuses }));
} catch (error) {
  console.error(`round e2e failed: ${error.stack || error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
