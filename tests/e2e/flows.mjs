// Two people (two browser contexts, each with its own IndexedDB and device key) walk through
// the demo page's flows against a running coordinator: intent onboarding, typed favourites,
// publish, matches with swipe-to-tune (keyboard) and snooze, a live room where they meet,
// mutual favourites by private set intersection, state after a reload, opt-out.
// Every screen is checked with axe-core (serious and critical violations fail) and for
// horizontal scrolling at a webview (390x844) and a desktop (1280x900) viewport, and saved
// as a screenshot.
// Usage: node flows.mjs --url http://127.0.0.1:PORT --alice FILE --bob FILE --out DIR
// Prints one JSON line with what it saw; exits non-zero on any failure or page error.
import { arg, launchChromium, waitForEngine } from "./support.mjs";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const url = arg("url");
const out = arg("out");
const lists = { alice: readFileSync(arg("alice"), "utf8"), bob: readFileSync(arg("bob"), "utf8") };
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
mkdirSync(out, { recursive: true });

const VIEWPORTS = { webview: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };
const browser = await launchChromium();
const pageErrors = [];
const screens = [];

async function openPerson(name) {
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${name} pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(`${name} console: ${message.text()}`);
  });
  await page.goto(url);
  await waitForEngine(page);
  return page;
}

/// axe-core on the page as it is, the horizontal overflow at both viewports, one screenshot
/// per viewport.
async function checkScreen(page, name) {
  const seen = { name, overflow: {}, screenshots: [] };
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    seen.overflow[label] = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    const path = join(out, `${name}-${label}.png`);
    await page.screenshot({ path, fullPage: true });
    seen.screenshots.push(path);
  }
  await page.setViewportSize(VIEWPORTS.desktop);
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  seen.violations = result;
  screens.push(seen);
  return seen;
}

async function analyse(page, list) {
  await page.fill("#favourites", list);
  await page.click("#analyse");
  await page.waitForSelector("#summary:not([hidden]) #fingerprint:not(:empty)");
}

async function publish(page, displayName) {
  await page.fill("#display-name", displayName);
  await page.check("#consent");
  await page.click("#publish");
  await page.waitForFunction(() => document.getElementById("publish-status").textContent.startsWith("Published"));
  return (await page.textContent("#user-id")).trim();
}

async function joinRoom(page) {
  const before = await page.$eval("#room-people", (list) => Number(list.dataset.refreshes || 0));
  await page.selectOption("#room", "films");
  await page.click("#join-room");
  await page.waitForFunction(
    (b) => Number(document.getElementById("room-people").dataset.refreshes || 0) > b,
    before,
  );
}

try {
  const alice = await openPerson("alice");
  const bob = await openPerson("bob");
  await checkScreen(alice, "01-onboarding");

  // Onboarding: intent questions set short-lived intent flags.
  await alice.check("input[name=intent][value=collaborators]");
  await alice.check("input[name=intent][value=project_feedback]");
  await alice.selectOption("#intent-ttl", "72");
  await alice.click("#save-intents");
  await alice.waitForFunction(() => document.getElementById("intents-status").textContent.startsWith("Active"));
  const intentsStatus = await alice.textContent("#intents-status");

  await analyse(alice, lists.alice);
  await analyse(bob, lists.bob);
  await alice.waitForSelector("#inferred-traits li", { timeout: 180000 });
  await checkScreen(alice, "02-traits-and-audit");

  // Behaviour and tone, summarised on Bob's device: scroll pauses, then pasted posts scored
  // with the encoder; both summaries graded public so they go on his card.
  await bob.setViewportSize(VIEWPORTS.webview);
  for (let i = 0; i < 7; i++) {
    await bob.mouse.move(200, 400);
    await bob.mouse.wheel(0, i % 2 ? -600 : 600);
    await bob.waitForTimeout(900);
  }
  await bob.setViewportSize(VIEWPORTS.desktop);
  await bob.waitForSelector('#behaviour tr[data-kind="activity_windows"]', { timeout: 30000 });
  await bob.fill("#posts", "Haha, my cat just reviewed the sequel: two paws down, lol\nPlot twist, the soundtrack was the best actor all along");
  await bob.click("#score-tone");
  await bob.waitForSelector('#behaviour tr[data-kind="tone"]', { timeout: 180000 });
  for (const kind of ["activity_windows", "tone"]) {
    await bob.selectOption(`#behaviour tr[data-kind="${kind}"] select`, "public");
    await bob.waitForSelector(`#behaviour tr[data-kind="${kind}"] .badge-public`);
  }
  const bobBehaviour = {
    rows: await bob.$$eval("#behaviour tr", (rows) => rows.map((r) => r.children[1].textContent)),
    engagement: await bob.textContent("#engagement"),
  };
  await checkScreen(bob, "02b-behaviour-and-tone");

  // Alice scores her tone and removes it again.
  await alice.fill("#posts", "Great work, proud of you all\nThanks for the kind words, it means a lot");
  await alice.click("#score-tone");
  await alice.waitForSelector('#behaviour tr[data-kind="tone"]', { timeout: 180000 });
  await alice.click('#behaviour tr[data-kind="tone"] button');
  await alice.waitForSelector('#behaviour tr[data-kind="tone"]', { state: "detached" });
  const aliceTonePruned = (await alice.$$('#behaviour tr[data-kind="tone"]')).length === 0;

  const aliceId = await publish(alice, "Alice Tester");
  const bobId = await publish(bob, "Bob Tester");

  // Matches, "Why this match?", swipe-to-tune by keyboard, snooze.
  await alice.click("#find");
  await alice.waitForSelector(".match-card .chip");
  const matchCount = await alice.$$eval("#matches .match-card", (cards) => cards.length);
  const firstCard = await alice.$eval("#matches .match-card", (card) => ({
    user: card.dataset.user,
    name: card.querySelector("h3").textContent,
    chips: [...card.querySelectorAll(".chip")].map((c) => c.textContent),
  }));
  await checkScreen(alice, "03-matches");
  await alice.focus("#matches .match-card:first-child");
  await alice.keyboard.press("ArrowLeft");
  await alice.waitForFunction(() => document.getElementById("tune-status").textContent.startsWith("Noted: less"));
  const lessStatus = await alice.textContent("#tune-status");
  await alice.focus("#matches .match-card:nth-child(2)");
  await alice.keyboard.press("ArrowRight");
  await alice.waitForFunction(() => document.getElementById("tune-status").textContent.startsWith("Noted: more"));
  const moreStatus = await alice.textContent("#tune-status");
  const snoozeButton = await alice.$("#matches .match-card:first-child button:has-text('Snooze')");
  let snoozeStatus = null;
  if (snoozeButton) {
    await snoozeButton.click();
    await alice.waitForFunction(() => document.getElementById("tune-status").textContent.startsWith("Snoozed"));
    snoozeStatus = await alice.textContent("#tune-status");
  }

  // A live room: both present, each sees the other.
  await joinRoom(alice);
  await joinRoom(bob);
  await joinRoom(alice);
  const aliceRoom = await alice.$$eval("#room-people .match-card", (cards) => cards.map((c) => c.dataset.user));
  const bobRoom = await bob.$$eval("#room-people .match-card", (cards) => cards.map((c) => c.dataset.user));
  await checkScreen(alice, "04-live-room");

  // Mutual favourites: both start the private set intersection at about the same time.
  const mutualSelector = (peer) => `#room-people .match-card[data-user="${peer}"] button:has-text('Mutual favourites')`;
  await Promise.all([alice.click(mutualSelector(bobId)), bob.click(mutualSelector(aliceId))]);
  const mutualDone = (peer) => (page) => page.waitForFunction(
    (p) => {
      const m = document.querySelector(`#room-people .match-card[data-user="${p}"] .mutual`);
      return m && (m.textContent.startsWith("You both") || m.textContent.startsWith("No favourites"));
    },
    peer,
    { timeout: 90000 },
  );
  await Promise.all([mutualDone(bobId)(alice), mutualDone(aliceId)(bob)]);
  const mutual = async (page, peer) => page.$eval(
    `#room-people .match-card[data-user="${peer}"] .mutual`,
    (m) => ({ text: m.textContent, bytes: Number(m.dataset.bytes), detail: m.title }),
  );
  const aliceMutual = await mutual(alice, bobId);
  const bobMutual = await mutual(bob, aliceId);
  await checkScreen(alice, "05-mutual-favourites");

  // State survives a reload (IndexedDB): signals, intents, device key.
  const fingerprint = (await alice.textContent("#fingerprint")).trim();
  await alice.reload();
  await waitForEngine(alice);
  const afterReload = {
    fingerprint: (await alice.textContent("#fingerprint")).trim(),
    userId: (await alice.textContent("#user-id")).trim(),
    intents: await alice.$$eval("input[name=intent]:checked", (boxes) => boxes.map((b) => b.value)),
  };

  await checkScreen(alice, "06-federated-panel");

  // Opt-out: everything on the device and at the coordinator.
  await alice.click("#optout");
  await alice.waitForFunction(() => document.getElementById("publish-status").textContent.startsWith("Opted out"));
  await checkScreen(alice, "07-opted-out");
  // Flush what the page holds, as when the tab hides: none of the leaving person's
  // interactions (a dwell on a removed card, time in the room) may reach the new log.
  await alice.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
  await alice.reload();
  await waitForEngine(alice);
  const afterOptOut = {
    signals: await alice.$$eval("#signals tr.signal", (rows) => rows.length),
    intents: await alice.$$eval("input[name=intent]:checked", (boxes) => boxes.length),
    userId: (await alice.textContent("#user-id")).trim(),
    databases: await alice.evaluate(async () => {
      const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open("mesh-device");
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const count = (store) => new Promise((resolve) => {
        const request = db.transaction(store, "readonly").objectStore(store).getAllKeys();
        request.onsuccess = () => resolve(request.result.map(String));
      });
      return { device: await count("device"), embeddings: (await count("embeddings")).length };
    }),
  };

  if (pageErrors.length) throw new Error(pageErrors.join("\n"));
  console.log(JSON.stringify({
    aliceId, bobId, bobBehaviour, aliceTonePruned, intentsStatus, matchCount, firstCard, lessStatus, moreStatus, snoozeStatus,
    aliceRoom, bobRoom, aliceMutual, bobMutual, fingerprint, afterReload, afterOptOut, screens,
  }));
} catch (error) {
  console.error(`e2e flows failed: ${error.stack || error}`);
  if (pageErrors.length) console.error(pageErrors.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}
