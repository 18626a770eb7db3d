// kbundle's page boot (classic script, inlined into dist/index.html after the wasm-bindgen glue).
// The module's bytes are in the page itself (#kbundle-wasm, base64), so the page works from
// file:// and with a Content-Security-Policy that forbids every request: nothing is fetched.
// The same compiled module is handed to one Web Worker, made from a Blob of the glue and
// web/js/worker.js, which builds bundles off the main thread.
"use strict";
(function () {
  function bytesOf(id) {
    const text = document.getElementById(id).textContent.trim();
    if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function fail(message) {
    const app = document.getElementById("app");
    app.textContent = "";
    const p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = "kbundle could not start: " + message;
    app.appendChild(p);
  }

  let worker = null;
  let moduleForWorker = null;
  let nextId = 1;
  const pending = new Map();

  function startWorker(module) {
    const source =
      document.getElementById("kbundle-glue").textContent +
      "\n" +
      document.getElementById("kbundle-worker").textContent;
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    worker = new Worker(url, { name: "kbundle-builder" });
    worker.onmessage = (event) => {
      const message = event.data;
      const job = pending.get(message.id);
      if (!job) return;
      if (message.type === "progress") {
        job.onProgress(message.text);
      } else if (message.type === "done") {
        pending.delete(message.id);
        job.resolve({ zip: message.zip, millis: message.millis, timeline: message.timeline });
      } else if (message.type === "exported") {
        pending.delete(message.id);
        job.resolve({ zip: message.zip, summary: message.summary });
      } else if (message.type === "error") {
        pending.delete(message.id);
        job.reject(message.message);
      }
    };
    worker.onerror = (event) => {
      for (const job of pending.values()) job.reject("the builder stopped: " + event.message);
      pending.clear();
    };
    worker.postMessage({ type: "init", module });
  }

  // Called by the page (web/src/browser.rs): resolves to { zip: Uint8Array, millis, timeline }.
  // previousZip (a Uint8Array, or null) is the bundle the cluster was installed from, with its
  // passphrase: the worker makes the next bundle from it.
  window.kbundleBuild = (yaml, passphrase, previousZip, previousPassphrase, onProgress) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject, onProgress });
      if (!worker) startWorker(moduleForWorker);
      worker.postMessage({ type: "build", id, yaml, passphrase, previousZip, previousPassphrase });
    });

  // Called by the page: resolves to { zip: Uint8Array, summary } — the export of a bundle the
  // worker built, for "ansible" or "cloud-init" (within the cloud limit `limit`).
  window.kbundleExport = (engine, limit, bundle, passphrase, cluster) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject, onProgress: () => {} });
      if (!worker) startWorker(moduleForWorker);
      worker.postMessage({ type: "export", id, engine, limit, bundle, passphrase, cluster });
    });

  (async () => {
    try {
      const bytes = bytesOf("kbundle-wasm");
      performance.mark("kbundle-decoded");
      const module = await WebAssembly.compile(bytes);
      moduleForWorker = module;
      performance.mark("kbundle-compiled");
      await wasm_bindgen({ module_or_path: module });
      performance.mark("kbundle-instantiated");
      wasm_bindgen.mount_app();
      // The builder is started once the form is on screen, so it does not compete with the
      // first render for the CPU.
      setTimeout(() => { if (!worker) startWorker(module); }, 0);
    } catch (error) {
      fail(String(error && error.message ? error.message : error));
    }
  })();
})();
