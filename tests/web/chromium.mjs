// Debian's Chromium, headless, as the browser tests and the benchmark start it: playwright-core
// drives the browser already on the machine (never a downloaded one), with the background
// services that would reach the network switched off.
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
