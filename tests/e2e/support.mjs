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
