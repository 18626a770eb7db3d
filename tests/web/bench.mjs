// Benchmark of the configurator in the real browser (Debian's Chromium, headless): time to first
// render, time to build a bundle (3 nodes ECDSA and RSA-2048, 100 nodes ECDSA) with the page's
// responsiveness meanwhile, and the size of the .wasm. Prints figures against the goals.
//
// usage: node bench.mjs <dist/index.html> <kbundle_bg.wasm> [rounds]
import { launchChromium } from "./chromium.mjs";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const [pagePath, wasmPath, roundsText] = process.argv.slice(2);
const rounds = Number(roundsText || 5);
const html = readFileSync(pagePath);
const server = createServer((request, response) => {
  if (request.url === "/" || request.url === "/index.html") {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(html);
  } else {
    response.writeHead(404);
    response.end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${server.address().port}/`;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (ms) => `${ms.toFixed(0)} ms`;

function clusterYaml(nodes, algorithm) {
  const lines = [
    "apiVersion: kbundle.dev/v1alpha1", "kind: Cluster", "metadata:", "  name: bench", "spec:",
    ...(nodes > 3 ? ['  controlPlaneEndpoint: "198.51.100.250:6443"'] : []),
    "  certificates:", `    keyAlgorithm: ${algorithm}`, "  nodes:",
  ];
  const controlPlanes = nodes > 3 ? 3 : 1;
  for (let i = 0; i < nodes; i++) {
    const address = `10.${20 + Math.floor(i / 250)}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const roles = i < controlPlanes ? "[control-plane, etcd]" : "[worker]";
    lines.push(`    - {name: n${i + 1}, address: ${address}, roles: ${roles}}`);
  }
  return lines.join("\n") + "\n";
}

const browser = await launchChromium();
try {
  // First render: fresh context (nothing cached, no saved form) each time.
  const firstRenders = [];
  const phases = [];
  for (let i = 0; i < rounds; i++) {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => window.kbundleTimings && window.kbundleTimings.firstRender);
    firstRenders.push(await page.evaluate(() => window.kbundleTimings.firstRender));
    phases.push(await page.evaluate(() => Object.fromEntries(
      performance.getEntriesByType("mark").map((mark) => [mark.name, mark.startTime]))));
    await context.close();
  }

  // Builds, through the page's own button, on one page: a warm worker, as a user clicking.
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector("#download:not([disabled])");
  async function build(yaml, times) {
    await page.evaluate(() => { document.querySelector("#import").open = true; });
    await page.fill("#import-text", yaml);
    await page.click("#import-load");
    await page.waitForSelector("#download:not([disabled])");
    const millis = [];
    const longestGaps = [];
    for (let i = 0; i < times; i++) {
      // The page's responsiveness: the longest pause between 10 ms timer ticks on the main
      // thread while the worker builds.
      await page.evaluate(() => {
        window.benchGap = 0;
        let last = performance.now();
        window.benchTimer = setInterval(() => {
          const now = performance.now();
          window.benchGap = Math.max(window.benchGap, now - last);
          last = now;
        }, 10);
      });
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
      await download.path();
      millis.push(await page.evaluate(() => window.kbundleTimings.lastBuildMillis));
      longestGaps.push(await page.evaluate(() => { clearInterval(window.benchTimer); return window.benchGap; }));
    }
    return { millis: median(millis), all: millis, gap: Math.max(...longestGaps) };
  }
  const ecdsa3 = await build(clusterYaml(3, "ECDSA-P256"), rounds);
  const rsa3 = await build(clusterYaml(3, "RSA-2048"), Math.max(3, Math.ceil(rounds / 2)));
  const ecdsa100 = await build(clusterYaml(100, "ECDSA-P256"), Math.max(3, Math.ceil(rounds / 2)));
  await context.close();

  const wasm = readFileSync(wasmPath);
  const gzip = gzipSync(wasm, { level: 9 }).length;
  const version = browser.version();
  const row = (what, value, goal, met) =>
    console.log(`${what.padEnd(44)} ${value.padStart(12)}   goal ${goal.padEnd(10)} ${met ? "met" : "NOT met"}`);
  console.log(`web benchmark: Chromium ${version} headless, ${url}, ${rounds} rounds (medians)`);
  const phase = (name) => median(phases.map((p) => p[name] || 0));
  console.log(`  first render phases (median): decoded ${fmt(phase("kbundle-decoded"))}, compiled ${fmt(phase("kbundle-compiled"))}, instantiated ${fmt(phase("kbundle-instantiated"))}`);
  row("time to first render", fmt(median(firstRenders)), "< 500 ms", median(firstRenders) < 500);
  row("bundle, 3 nodes, ECDSA P-256", fmt(ecdsa3.millis), "< 100 ms", ecdsa3.millis < 100);
  row("bundle, 3 nodes, RSA-2048 (WebCrypto keys)", fmt(rsa3.millis), "< 1500 ms", rsa3.millis < 1500);
  row("  longest main-thread pause during RSA build", fmt(rsa3.gap), "< 100 ms", rsa3.gap < 100);
  row("bundle, 100 nodes, ECDSA P-256", fmt(ecdsa100.millis), "-", true);
  row("  longest main-thread pause, 100 nodes", fmt(ecdsa100.gap), "< 100 ms", ecdsa100.gap < 100);
  row(".wasm raw", `${(wasm.length / 1024).toFixed(0)} KB`, "-", true);
  row(".wasm gzip -9", `${(gzip / 1024).toFixed(0)} KB`, "< 600 KB", gzip < 600 * 1024);
  console.log(`  all builds (ms): ECDSA-3 ${ecdsa3.all.map((m) => m.toFixed(0)).join(", ")}; RSA-3 ${rsa3.all.map((m) => m.toFixed(0)).join(", ")}; ECDSA-100 ${ecdsa100.all.map((m) => m.toFixed(0)).join(", ")}`);
} finally {
  await browser.close();
  server.close();
}
