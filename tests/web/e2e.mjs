// End-to-end run of the configurator in Debian's Chromium (playwright-core drives the browser
// already on the machine; nothing is downloaded). Called by cli/tests/web.rs, which serves
// dist/ on loopback, then checks what this script saved with `kbundle verify` and openssl.
//
// usage: node e2e.mjs <page-url> <out-dir> <import-fixture.yaml> <file-url-of-the-page>
// writes into <out-dir>: e2e-bundle.zip, e2e-next-bundle.zip (made from the first),
// e2e-rsa-bundle.zip, exported.yaml, reexported.yaml,
// requests.json (every request the page made), checks.json (what the page showed), page.png.
import { launchChromium } from "./chromium.mjs";
import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";

const [pageUrl, outDir, fixture, fileUrl] = process.argv.slice(2);
const openDetails = (page, selector) =>
  page.evaluate((selector) => { document.querySelector(selector).open = true; }, selector);
const checks = {};
const requests = [];
const problems = [];

const browser = await launchChromium();
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  context.on("request", (request) => requests.push(request.url()));
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });

  await page.goto(pageUrl);
  await page.waitForSelector("#download:not([disabled])");

  // A 3-node cluster from scratch: name, pasted addresses.
  await page.fill("#f-metadata-name", "e2e");
  while ((await page.locator("li.node button.remove").count()) > 0) {
    await page.locator("li.node button.remove").first().click();
  }
  checks.emptyBlocked = await page.isDisabled("#download");
  await page.fill("#paste-addresses", "198.51.100.10\n198.51.100.11\n198.51.100.12");
  await page.click("#add-pasted");
  checks.nodeCount = await page.locator("li.node").count();

  // A bad address: the error shows at the field, the download is disabled and says why.
  await page.fill("#f-spec-nodes-1-address", "198.51.100.300");
  checks.badAddressError = await page.textContent("#f-spec-nodes-1-address-errors");
  checks.badAddressInvalid = await page.getAttribute("#f-spec-nodes-1-address", "aria-invalid");
  checks.badAddressBlocked = await page.isDisabled("#download");
  checks.blockedText = await page.textContent("#download-blocked");

  // Fixed: the download works and is named after the cluster.
  await page.fill("#f-spec-nodes-1-address", "198.51.100.11");
  checks.fixedEnabled = await page.isEnabled("#download");
  checks.planNoProxy = await page.textContent("#plan-no-proxy");
  let [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  checks.downloadName = download.suggestedFilename();
  await download.saveAs(join(outDir, "e2e-bundle.zip"));
  await page.waitForSelector("#download-done");
  checks.doneText = await page.textContent("#download-done");

  // The same bundle for Ansible and for cloud-init, beside it. EC2's 16 KB is too small for a
  // control-plane node's user-data: refused, by node; Compute Engine's limit takes it.
  [download] = await Promise.all([page.waitForEvent("download"), page.click("#fleet-ansible")]);
  checks.ansibleName = download.suggestedFilename();
  await download.saveAs(join(outDir, "e2e-ansible.zip"));
  await page.waitForSelector("#fleet-done");
  checks.ansibleDone = await page.textContent("#fleet-done");
  await page.selectOption("#fleet-cloud-limit", "aws");
  await page.click("#fleet-cloud-init");
  await page.waitForSelector("#fleet-error");
  checks.cloudInitTooLarge = await page.textContent("#fleet-error");
  await page.selectOption("#fleet-cloud-limit", "gce");
  [download] = await Promise.all([page.waitForEvent("download"), page.click("#fleet-cloud-init")]);
  checks.cloudInitName = download.suggestedFilename();
  await download.saveAs(join(outDir, "e2e-cloud-init.zip"));
  await page.waitForSelector("#fleet-done");
  checks.cloudInitDone = await page.textContent("#fleet-done");

  // The built bundle's expiry timeline.
  checks.builtTimeline = await page.textContent("#built-timeline summary");
  checks.builtTimelineClosedRows = await page.locator("#built-timeline tbody tr").count();
  await page.click("#built-timeline summary");
  checks.builtTimelineRows = await page.locator("#built-timeline tbody tr").count();

  // The next bundle of the running cluster: the first bundle dropped on the page, then a worker
  // added. The next bundle keeps the identity and says what it kept.
  const firstZip = [...readFileSync(join(outDir, "e2e-bundle.zip"))];
  const zipTransfer = await page.evaluateHandle((bytes) => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(bytes)], "e2e-bundle.zip", { type: "application/zip" }));
    return data;
  }, firstZip);
  await page.dispatchEvent("#previous .dropzone", "drop", { dataTransfer: zipTransfer });
  await page.waitForSelector("#previous-summary");
  checks.previousSummary = await page.textContent("#previous-summary .notice");
  await page.click("#previous-timeline summary");
  checks.previousTimelineRows = await page.locator("#previous-timeline tbody tr").count();
  await page.fill("#paste-addresses", "198.51.100.13");
  await page.click("#add-pasted");
  checks.nextButton = await page.textContent("#download");
  [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  await download.saveAs(join(outDir, "e2e-next-bundle.zip"));
  await page.waitForSelector("#download-done");
  checks.nextKept = await page.textContent("#download-kept");
  await page.click("#built-timeline summary");
  checks.nextTimelineKept = await page.locator("#built-timeline td.kept", { hasText: "kept" }).count();
  checks.nextTimelineNew = await page.locator("#built-timeline td.kept", { hasText: "new" }).count();
  // Forgotten, the page makes new clusters again; the worker goes.
  await page.click("#previous-forget");
  checks.afterForgetButton = await page.textContent("#download");
  await page.locator("li.node button.remove").last().click();
  // Nothing of the previous bundle reached local storage.
  checks.storageAfterPrevious = await page.evaluate(() => JSON.stringify(Object.assign({}, localStorage)));

  // Export cluster.yaml.
  await openDetails(page, "#import");
  [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
  checks.exportName = download.suggestedFilename();
  await download.saveAs(join(outDir, "exported.yaml"));

  // The form survives a reload.
  await page.reload();
  await page.waitForSelector("#download:not([disabled])");
  checks.afterReloadName = await page.inputValue("#f-metadata-name");
  checks.afterReloadNodes = await page.locator("li.node").count();

  // Start over, then import the exported file by pasting it: the same form comes back.
  await openDetails(page, "#import");
  await page.click("#start-over");
  checks.afterStartOverName = await page.inputValue("#f-metadata-name");
  await page.fill("#import-text", readFileSync(join(outDir, "exported.yaml"), "utf8"));
  await page.click("#import-load");
  checks.afterImportName = await page.inputValue("#f-metadata-name");
  checks.afterImportNodes = await page.locator("li.node").count();
  [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
  await download.saveAs(join(outDir, "reexported.yaml"));

  // Import through the file picker (the dual-stack fixture): both families drawn.
  await page.setInputFiles("#import-file", fixture);
  await page.waitForFunction(() => document.querySelectorAll("figure.map").length === 2);
  checks.fixtureNodes = await page.locator("li.node").count();
  checks.mapFamilies = await page.locator("figure.map figcaption").allTextContents();

  // Drag and drop of a file onto the drop zone.
  const dropped = readFileSync(join(outDir, "exported.yaml"), "utf8").replace("name: e2e", "name: dropped");
  const transfer = await page.evaluateHandle((text) => {
    const data = new DataTransfer();
    data.items.add(new File([text], "dropped.yaml", { type: "text/yaml" }));
    return data;
  }, dropped);
  await page.dispatchEvent("#import .dropzone", "drop", { dataTransfer: transfer });
  await page.waitForFunction(() => document.querySelector("#f-metadata-name").value === "dropped");
  checks.droppedName = await page.inputValue("#f-metadata-name");
  await page.setInputFiles("#import-file", fixture);
  await page.waitForFunction(() => document.querySelectorAll("figure.map").length === 2);

  // An overlap is drawn in red while the download is refused.
  await page.fill("#f-spec-networking-podSubnet", "10.96.0.0/16,fd00:10:244::/56");
  checks.overlapRects = await page.locator("svg rect.overlap").count();
  checks.overlapBlocked = await page.isDisabled("#download");

  // RSA-2048 through WebCrypto, back on the exported 3-node cluster.
  await page.fill("#import-text", readFileSync(join(outDir, "exported.yaml"), "utf8"));
  await page.click("#import-load");
  await openDetails(page, "#certificates");
  await page.selectOption("#f-spec-certificates-keyAlgorithm", "RSA-2048");
  [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  await download.saveAs(join(outDir, "e2e-rsa-bundle.zip"));
  await page.waitForSelector("#download-done");
  checks.rsaBuildMillis = await page.evaluate(() => window.kbundleTimings.lastBuildMillis);

  // Registry credentials and a passphrase: the password never reaches local storage, and the
  // encrypted zip opens with the passphrase only.
  await openDetails(page, "#registry");
  await page.click("#add-credential");
  await page.fill("#f-spec-registry-credentials-0-registry", "registry.example.com");
  await page.fill("#f-spec-registry-credentials-0-username", "puller");
  await page.fill("#f-spec-registry-credentials-0-password", "pa55-never-stored");
  await page.fill("#passphrase", "correct horse battery staple");
  checks.storage = await page.evaluate(() => JSON.stringify(Object.assign({}, localStorage)));
  [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  await download.saveAs(join(outDir, "e2e-encrypted-bundle.zip"));
  await page.waitForSelector("#download-done");
  checks.encryptedDoneText = await page.textContent("#download-done");
  [download] = await Promise.all([page.waitForEvent("download"), page.click("#fleet-ansible")]);
  await download.saveAs(join(outDir, "e2e-encrypted-ansible.zip"));
  await page.waitForSelector("#fleet-done");
  checks.encryptedAnsibleDone = await page.textContent("#fleet-done");
  await page.fill("#passphrase", "");

  // An encrypted previous bundle asks for its passphrase; a wrong one is refused.
  await page.setInputFiles("#previous-file", join(outDir, "e2e-encrypted-bundle.zip"));
  await page.waitForSelector("#previous-passphrase");
  await page.fill("#previous-passphrase", "not the passphrase");
  await page.click("#previous-open");
  await page.waitForSelector("#previous-error");
  checks.previousWrongPassphrase = await page.textContent("#previous-error");
  await page.fill("#previous-passphrase", "correct horse battery staple");
  await page.click("#previous-open");
  await page.waitForSelector("#previous-summary");
  checks.previousEncryptedSummary = await page.textContent("#previous-summary .notice");
  await page.click("#previous-forget");

  // Phone-sized screen: the layout folds into one column without sideways scrolling.
  await page.setViewportSize({ width: 390, height: 844 });
  checks.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.setViewportSize({ width: 1280, height: 900 });

  // Keyboard: Tab reaches the first field with a visible label.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  checks.unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea")]
      .filter((el) => el.type !== "hidden")
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label"))
      .map((el) => el.id || el.outerHTML.slice(0, 60)));

  // The screenshot for the README: the example cluster.
  await openDetails(page, "#import");
  await page.click("#start-over");
  await page.evaluate(() => { document.querySelector("#import").open = false; window.scrollTo(0, 0); });
  await page.screenshot({ path: join(outDir, "page.png") });
  await context.close();

  // The same page opened from file://: it starts, and its worker builds a bundle.
  const offline = await browser.newContext({ acceptDownloads: true });
  offline.on("request", (request) => requests.push(request.url()));
  const filePage = await offline.newPage();
  filePage.on("pageerror", (error) => problems.push(`file:// page error: ${error.message}`));
  await filePage.goto(fileUrl);
  await filePage.waitForSelector("#download:not([disabled])");
  [download] = await Promise.all([filePage.waitForEvent("download"), filePage.click("#download")]);
  await download.saveAs(join(outDir, "from-file-url.zip"));
  checks.fileUrlDownload = download.suggestedFilename();
  await offline.close();
} catch (error) {
  problems.push(`script: ${error.stack || error}`);
} finally {
  await browser.close();
}
checks.problems = problems;
writeFileSync(join(outDir, "requests.json"), JSON.stringify(requests, null, 2));
writeFileSync(join(outDir, "checks.json"), JSON.stringify(checks, null, 2));
