// kbundle's bundle builder, run in a Web Worker (a Blob of the wasm-bindgen glue followed by
// this file). It makes RSA keys with the browser's WebCrypto (native code, all at once) because
// pure-Rust prime search in wasm takes ~0.2 s per key; ECDSA keys are made by the core itself.
"use strict";
let ready = null;

self.onmessage = async (event) => {
  const message = event.data;
  if (message.type === "init") {
    ready = wasm_bindgen({ module_or_path: message.module });
    return;
  }
  if (message.type === "export") {
    exportBundle(message);
    return;
  }
  if (message.type !== "build") return;
  const id = message.id;
  const progress = (text) => self.postMessage({ type: "progress", id, text });
  try {
    const started = performance.now();
    await ready;
    const previous = message.previousZip || new Uint8Array(0);
    const previousPassphrase = message.previousPassphrase || "";
    const issuedAt = Math.floor(Date.now() / 1000);
    const plan = JSON.parse(
      wasm_bindgen.worker_key_plan(message.yaml, previous, previousPassphrase, issuedAt),
    );
    let keys = [];
    if (plan.rsaBits) {
      let made = 0;
      progress(`Making ${plan.count} RSA-${plan.rsaBits} keys…`);
      keys = await Promise.all(
        Array.from({ length: plan.count }, async () => {
          const pair = await crypto.subtle.generateKey(
            {
              name: "RSASSA-PKCS1-v1_5",
              modulusLength: plan.rsaBits,
              publicExponent: new Uint8Array([1, 0, 1]),
              hash: "SHA-256",
            },
            true,
            ["sign", "verify"],
          );
          const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
          made += 1;
          progress(`Made ${made} of ${plan.count} RSA-${plan.rsaBits} keys…`);
          return der;
        }),
      );
    }
    progress(`Signing certificates and writing the zip…`);
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const built = wasm_bindgen.worker_build(
      message.yaml,
      seed,
      issuedAt,
      message.passphrase || "",
      keys,
      previous,
      previousPassphrase,
    );
    const zip = built.zip;
    const millis = performance.now() - started;
    self.postMessage({ type: "done", id, zip, millis, timeline: built.timeline }, [zip.buffer]);
  } catch (error) {
    self.postMessage({ type: "error", id, message: describe(error) });
  }
};

// An export of the bundle just built (kbundle export ansible|cloud-init, in the browser).
async function exportBundle(message) {
  const id = message.id;
  try {
    await ready;
    const exported = wasm_bindgen.worker_export(
      message.engine,
      message.limit,
      message.bundle,
      message.passphrase || "",
      message.cluster,
    );
    const zip = exported.zip;
    self.postMessage({ type: "exported", id, zip, summary: exported.summary }, [zip.buffer]);
  } catch (error) {
    self.postMessage({ type: "error", id, message: describe(error) });
  }
}

function describe(error) {
  return String(error && error.message ? error.message : error);
}
