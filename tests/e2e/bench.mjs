// Runs web-demo/bench.html in headless Chromium against a small static server of its own
// (web-demo/ plus the data directory under /bench-data/) and prints the results as JSON.
// Usage: node bench.mjs --web-dir DIR --data DIR
import { arg, launchChromium } from "./support.mjs";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";


const webDir = arg("web-dir");
const dataDir = arg("data");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".csv": "text/csv" };

const server = createServer(async (request, response) => {
  const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname));
  const file = path.startsWith("/bench-data/") ? join(dataDir, path.slice("/bench-data/".length)) : join(webDir, path);
  try {
    const body = await readFile(file);
    response.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" });
    response.end(body);
  } catch {
    response.writeHead(404);
    response.end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${server.address().port}/bench.html`;

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url);
  await page.waitForFunction(() => window.benchResults, null, { timeout: 300000 });
  if (errors.length) throw new Error(errors.join("\n"));
  const results = await page.evaluate(() => window.benchResults);
  results.browser = browser.version();
  console.log(JSON.stringify(results));
} catch (error) {
  console.error(`bench failed: ${error.stack || error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
