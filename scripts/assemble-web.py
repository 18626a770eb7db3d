#!/usr/bin/env python3
"""Fills in the page template (index.html) with the styles, the wasm-bindgen glue, the boot and
worker scripts and the wasm module (base64), and writes dist/index.html atomically.

The Content-Security-Policy is computed here from the exact inline texts: scripts and styles are
allowed by their SHA-256 only, wasm compilation by 'wasm-unsafe-eval', the builder worker from a
blob: URL, and nothing may be fetched, posted or connected to ('none' everywhere else)."""
import base64
import hashlib
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def digest(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def main():
    bindgen_dir, out_dir = sys.argv[1], sys.argv[2]
    glue = read(os.path.join(bindgen_dir, "kbundle.js"))
    with open(os.path.join(bindgen_dir, "kbundle_bg.wasm"), "rb") as handle:
        wasm = handle.read()
    style = read(os.path.join(ROOT, "web", "style.css"))
    boot = read(os.path.join(ROOT, "web", "js", "boot.js"))
    worker = read(os.path.join(ROOT, "web", "js", "worker.js"))
    for name, text in (("glue", glue), ("boot", boot), ("worker", worker), ("style", style)):
        if "</script" in text.lower() or "</style" in text.lower():
            sys.exit(f"assemble-web: the {name} text would close its element early")

    csp = "; ".join([
        "default-src 'none'",
        f"script-src {digest(glue)} {digest(boot)} 'wasm-unsafe-eval'",
        f"style-src {digest(style)}",
        "worker-src blob:",
        "img-src data:",
        "connect-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ])
    page = read(os.path.join(ROOT, "index.html"))
    for key, value in (
        ("{{CSP}}", csp),
        ("{{STYLE}}", style),
        ("{{WASM_BASE64}}", base64.b64encode(wasm).decode()),
        ("{{WORKER}}", worker),
        ("{{GLUE}}", glue),
        ("{{BOOT}}", boot),
    ):
        if page.count(key) != 1:
            sys.exit(f"assemble-web: index.html must hold {key} exactly once")
        page = page.replace(key, value)

    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, "index.html")
    fd, temporary = tempfile.mkstemp(dir=out_dir, prefix=".index.html.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(page)
    os.chmod(temporary, 0o644)
    os.replace(temporary, target)
    print(f"dist: {target} ({len(page) // 1024} KB; wasm {len(wasm) // 1024} KB)")


if __name__ == "__main__":
    main()
