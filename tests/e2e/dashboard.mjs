// Opens the coordinator's operator dashboard in headless Chromium after `mesh simulate-days`,
// waits for its charts, and reports what each shows; axe-core and both viewports as in the
// demo's flows. Usage: node dashboard.mjs --url http://127.0.0.1:PORT --token T --out DIR
import { arg, launchChromium } from "./support.mjs";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const url = arg("url");
const token = arg("token");
const out = arg("out");
mkdirSync(out, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const browser = await launchChromium();
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  await page.goto(`${url}/dashboard`);
  await page.fill("#token", token);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("body[data-loaded=true]", { timeout: 60000 });
  const charts = await page.$$eval("#charts figure", (figures) => figures.map((f) => ({
    metric: f.dataset.metric,
    points: f.querySelectorAll("circle.point").length,
    series: [...f.querySelectorAll("polyline.series")].map((p) => p.dataset.cohort),
  })));
  const alerts = await page.$$eval("#alerts li", (items) => items.map((i) => ({ alert: i.classList.contains("alert"), text: i.textContent })));
  const arms = await page.$$eval("#arms tr", (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
  const overflow = {};
  for (const [label, size] of [["webview", { width: 390, height: 844 }], ["desktop", { width: 1280, height: 900 }]]) {
    await page.setViewportSize(size);
    overflow[label] = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    await page.screenshot({ path: join(out, `dashboard-${label}.png`), fullPage: true });
  }
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] }))
    .violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) })));
  const status = await page.textContent("#status");
  if (errors.length) throw new Error(errors.join("\n"));
  console.log(JSON.stringify({ status, charts, alerts, arms, overflow, violations, screenshots: ["webview", "desktop"].map((l) => join(out, `dashboard-${l}.png`)) }));
} catch (error) {
  console.error(`dashboard e2e failed: ${error.stack || error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
