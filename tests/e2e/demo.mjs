// Walks through the demo page in real headless Chromium against a running coordinator:
// analyse typed favourites, import export files (report), audit (prune one, prune a source,
// re-grade), reload (signals persist), publish, find matches with "Why this match?" chips,
// opt out (signals gone, also after a reload).
// Also computes, in the page's WebAssembly, the taste vector of the favourites under a model
// with a content tower (--content-model, served to the page by request interception) with
// synthetic content embeddings, for the Rust test to compare bit for bit with the native one.
// Usage: node demo.mjs --url http://127.0.0.1:PORT --favourites FILE --exports DIR --out DIR
//   --content-model FILE
// Prints one JSON line with what it saw; exits non-zero on any failure or page error.
import { arg, launchChromium, waitForEngine } from "./support.mjs";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";


const url = arg("url");
const favourites = readFileSync(arg("favourites"), "utf8");
const out = arg("out");
const exportsDir = arg("exports");
const contentModel = readFileSync(arg("content-model"));
mkdirSync(out, { recursive: true });

const browser = await launchChromium();
const pageErrors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
  page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(`console: ${message.text()} at ${message.location().url}`);
  });
  const shot = async (name) => {
    const path = join(out, name);
    await page.screenshot({ path, fullPage: true });
    return path;
  };
  const screenshots = [];

  await page.goto(url);
  await waitForEngine(page);
  await page.click("#analyse");
  await page.waitForSelector("#error:not([hidden])");
  const emptyListError = await page.textContent("#error");
  if (!emptyListError.includes("favourites list is empty")) {
    throw new Error(`an empty list should say so, got: ${emptyListError}`);
  }

  await page.fill("#favourites", favourites);
  await page.click("#analyse");
  await page.waitForSelector("#summary:not([hidden]) #fingerprint:not(:empty)");
  const fingerprint = (await page.textContent("#fingerprint")).trim();
  const hashFingerprint = (await page.textContent("#hash-fingerprint")).trim();
  const traits = await page.$$eval("#traits li", (items) => items.map((i) => i.textContent));
  await page.waitForSelector("#inferred-traits li", { timeout: 180000 });
  const inferred = await page.$$eval("#inferred-traits li", (items) =>
    items.map((i) => ({
      id: i.dataset.trait,
      text: i.querySelector("strong").textContent,
      explanation: i.querySelector(".explanation").textContent.trim(),
    })),
  );
  const inferredStatus = await page.textContent("#inferred-status");
  screenshots.push(await shot("01-taste-summary.png"));
  const turnedOff = inferred[0].id;
  await page.click(`#inferred-traits li[data-trait="${turnedOff}"] button`);
  await page.waitForSelector(`#inferred-traits li.off[data-trait="${turnedOff}"]`);
  const inferredSummaryAfterOff = await page.textContent("#inferred-summary");
  screenshots.push(await shot("01b-trait-turned-off.png"));

  const signalRows = () => page.$$eval("#signals tr.signal", (rows) => rows.length);
  const countText = () => page.textContent("#signal-count");
  const typedSignals = await signalRows();

  const imports = [];
  for (const file of ["letterboxd-ratings.csv", "goodreads_library_export.csv"]) {
    const before = await countText();
    await page.setInputFiles("#file-input", join(exportsDir, file));
    await page.waitForFunction((b) => document.getElementById("signal-count").textContent !== b, before);
    imports.push({
      file,
      summary: await page.textContent("#report-summary"),
      skipped: await page.$$eval("#report-skipped li", (items) => items.map((i) => i.textContent)),
      signals: await countText(),
    });
  }
  screenshots.push(await shot("02-import-report.png"));

  const wrongFormat = await (async () => {
    await page.selectOption("#format", "goodreads_library");
    await page.setInputFiles("#file-input", join(exportsDir, "letterboxd-ratings.csv"));
    await page.waitForSelector("#error:not([hidden])");
    const message = await page.textContent("#error");
    await page.selectOption("#format", "");
    return message;
  })();

  const beforePrune = await countText();
  await page.click("#signals tr.signal:first-child button");
  await page.waitForFunction((b) => document.getElementById("signal-count").textContent !== b, beforePrune);
  const afterPrune = await countText();
  const beforeSource = afterPrune;
  await page.click("#source-actions button[data-source=goodreads]");
  await page.waitForFunction((b) => document.getElementById("signal-count").textContent !== b, beforeSource);
  const afterSourcePrune = await countText();
  const firstRow = await page.$eval("#signals tr.signal", (row) => row.dataset.id);
  await page.selectOption(`#signals tr.signal[data-id="${firstRow}"] select.grade`, "private");
  await page.waitForSelector(`#signals tr.signal[data-id="${firstRow}"] .badge-private`);
  const fingerprintBeforeReload = (await page.textContent("#fingerprint")).trim();
  screenshots.push(await shot("03-audit.png"));

  await page.reload();
  await page.waitForFunction(() => document.getElementById("status").textContent === "ready", null, { timeout: 60000 });
  const afterReload = await countText();
  const fingerprintAfterReload = (await page.textContent("#fingerprint")).trim();
  const gradeAfterReload = await page.$eval(`#signals tr.signal[data-id="${firstRow}"] .badge`, (b) => b.className);
  await page.waitForFunction(() => document.getElementById("inferred-status").textContent.includes("embedded on this device"), null, { timeout: 180000 });
  const inferredStatusAfterReload = await page.textContent("#inferred-status");
  const turnedOffAfterReload = await page.$$eval(`#inferred-traits li[data-trait="${turnedOff}"]`, (items) =>
    items.map((i) => i.classList.contains("off")),
  );
  screenshots.push(await shot("04-after-reload.png"));

  await page.fill("#display-name", "Browser Tester");
  await page.check("#consent");
  await page.click("#publish");
  await page.waitForFunction(() => document.getElementById("publish-status").textContent.startsWith("Published"));
  const publishStatus = await page.textContent("#publish-status");
  const userId = await page.textContent("#user-id");

  await page.click("#find");
  await page.waitForSelector(".match-card .chip");
  const matches = await page.$$eval(".match-card", (cards) =>
    cards.map((card) => ({
      name: card.querySelector("h3").textContent,
      chips: [...card.querySelectorAll(".chip")].map((c) => c.textContent),
    })),
  );
  screenshots.push(await shot("05-matches.png"));

  await page.click("#optout");
  await page.waitForFunction(() => document.getElementById("publish-status").textContent.startsWith("Opted out"));
  const optOutStatus = await page.textContent("#publish-status");
  const auditHiddenAfterOptOut = await page.$eval("#audit", (a) => a.hidden);
  screenshots.push(await shot("06-opted-out.png"));
  await page.reload();
  await page.waitForFunction(() => document.getElementById("status").textContent === "ready", null, { timeout: 60000 });
  const signalsAfterOptOutReload = await signalRows();

  await page.route("**/__e2e__/content-model.bin", (route) =>
    route.fulfill({ status: 200, contentType: "application/octet-stream", body: contentModel }));
  const contentTower = await page.evaluate(async (list) => {
    const wasm = await import("/pkg/mesh_client.js");
    await wasm.default();
    const { setSyntheticEmbeddings } = await import("/bench-support.js");
    const model = new Uint8Array(await (await fetch("/__e2e__/content-model.bin")).arrayBuffer());
    const session = new wasm.MeshSession(model);
    const withoutContent = session.analyse(list).vector_fingerprint;
    const embedded = setSyntheticEmbeddings(session);
    return { withoutContent, withContent: session.analyse(list).vector_fingerprint, embedded };
  }, favourites);

  if (pageErrors.length) throw new Error(pageErrors.join("\n"));
  console.log(JSON.stringify({
    contentTower,
    userId, emptyListError, fingerprint, hashFingerprint, traits, inferred, inferredStatus, turnedOff,
    inferredSummaryAfterOff, inferredStatusAfterReload, turnedOffAfterReload, typedSignals, imports, wrongFormat, beforePrune, afterPrune,
    afterSourcePrune, fingerprintBeforeReload, afterReload, fingerprintAfterReload, gradeAfterReload,
    publishStatus, matches, optOutStatus, auditHiddenAfterOptOut, signalsAfterOptOutReload, screenshots,
  }));
} catch (error) {
  console.error(`e2e failed: ${error.stack || error}`);
  if (pageErrors.length) console.error(pageErrors.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}
