// What the browser scripts share: their arguments and how Debian's Chromium is started here
// (as root, headless, no network but loopback).
import { chromium } from "playwright-core";

/// The value after `--name` on the command line; throws when missing.
export function arg(name) {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0 || index + 1 >= process.argv.length) throw new Error(`missing --${name}`);
  return process.argv[index + 1];
}

/// Headless Chromium (`$CHROMIUM`, else /usr/bin/chromium) without background networking.
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/// Waits until the demo page's engine reports ready; throws with the page's error otherwise.
export async function waitForEngine(page) {
  await page.waitForFunction(
    () => ["ready", "failed to start"].includes(document.getElementById("status").textContent),
    null,
    { timeout: 60000 },
  );
  if ((await page.textContent("#status")) !== "ready") {
    throw new Error(`the engine did not start: ${await page.textContent("#error")}`);
  }
}
