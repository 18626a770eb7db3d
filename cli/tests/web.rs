//! The browser configurator end to end, in real headless Chromium: `tests/web/e2e.mjs` fills in
//! the form served from a loopback server started here, downloads bundles, exports and imports
//! cluster.yaml; this test then checks what it saved with `kbundle verify`, `openssl verify` and
//! `kbundle generate`, and that the page asked for nothing but its own file.
//!
//! Needs the built page (`scripts/build-web.sh`, run by `scripts/test.sh` first) and
//! `tests/web/node_modules` (`npm ci --prefix tests/web`, done by scripts/install-test-deps.sh).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use kbundle_tests::programs::{command, require_program, run};

/// The repository root without `..` in it: the page's file:// URL is compared with the one the
/// browser reports, which is normalised.
fn workspace() -> PathBuf {
    kbundle_tests::repository_root()
        .canonicalize()
        .expect("workspace")
}

fn newest_change(directory: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(directory)
        .expect("reads sources")
        .flatten()
    {
        let path = entry.path();
        let time = if path.is_dir() {
            newest_change(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH)
        };
        newest = newest.max(time);
    }
    newest
}

/// The built page, refusing one older than the sources it is built from (a stale page would
/// test yesterday's code).
fn built_page() -> PathBuf {
    let root = workspace();
    let page = root.join("dist/index.html");
    let built = std::fs::metadata(&page)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!("dist/index.html is missing: build the page first with scripts/build-web.sh")
        });
    for source in ["web", "core/src"] {
        assert!(
            newest_change(&root.join(source)) <= built,
            "dist/index.html is older than {source}/: rebuild it with scripts/build-web.sh"
        );
    }
    page
}

/// A static server for `page` on a free loopback port that records every path asked for.
fn serve(page: PathBuf) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds loopback");
    let address = listener.local_addr().expect("address");
    let asked = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&asked);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Drain the headers.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_owned();
            record.lock().expect("lock").push(path.clone());
            let mut stream = &stream;
            let response = if path == "/" || path == "/index.html" {
                let body = std::fs::read(&page).unwrap_or_default();
                let mut head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                head.extend(body);
                head
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            };
            let _ = stream.write_all(&response);
        }
    });
    (format!("http://{address}/"), asked)
}

fn unzip(zip: &Path, into: &Path) {
    let mut unzip = command(require_program("unzip"));
    unzip.arg("-q").arg("-o").arg(zip).arg("-d").arg(into);
    run(unzip, Duration::from_secs(60)).expect_success();
}

fn kbundle(args: &[&str], directory: &Path) -> kbundle_tests::programs::Finished {
    let mut kbundle = command(env!("CARGO_BIN_EXE_kbundle"));
    kbundle.args(args).current_dir(directory);
    run(kbundle, Duration::from_secs(120))
}

/// `openssl verify` of every certificate of the control-plane node against its CA.
fn openssl_verifies(bundle_dir: &Path) {
    let pki = bundle_dir.join("nodes/cp1/rootfs/etc/kubernetes/pki");
    let pairs = [
        ("ca.crt", "apiserver.crt"),
        ("ca.crt", "apiserver-kubelet-client.crt"),
        ("front-proxy-ca.crt", "front-proxy-client.crt"),
        ("etcd/ca.crt", "etcd/server.crt"),
        ("etcd/ca.crt", "etcd/peer.crt"),
        ("etcd/ca.crt", "apiserver-etcd-client.crt"),
    ];
    for (ca, leaf) in pairs {
        let mut openssl = command(require_program("openssl"));
        openssl
            .arg("verify")
            .arg("-CAfile")
            .arg(pki.join(ca))
            .arg(pki.join(leaf));
        let finished = run(openssl, Duration::from_secs(30));
        assert!(
            finished.expect_success().contains(": OK"),
            "{leaf}: {}",
            finished.output()
        );
    }
}

fn entries(directory: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, directory: &Path, found: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(directory).expect("reads").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                let name = path
                    .strip_prefix(root)
                    .expect("inside")
                    .to_string_lossy()
                    .into_owned();
                found.insert(name, std::fs::read(&path).expect("reads"));
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(directory, directory, &mut found);
    found
}

/// Every file under `directory`: its path, mode and contents.
fn folder_files(directory: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt as _;
    entries(directory)
        .into_iter()
        .map(|(name, contents)| {
            let mode = std::fs::metadata(directory.join(&name))
                .expect("metadata")
                .permissions()
                .mode()
                & 0o7777;
            (name, (mode, contents))
        })
        .collect()
}

/// Every file of the zip `path`, opened with `passphrase` when given: its name, mode and
/// contents.
fn zip_files(path: &Path, passphrase: Option<&str>) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(path).expect("opens")).expect("a zip");
    (0..archive.len())
        .map(|index| {
            let mut entry = match passphrase {
                Some(passphrase) => archive.by_index_decrypt(index, passphrase.as_bytes()),
                None => archive.by_index(index),
            }
            .expect("the entry opens");
            let mut contents = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut contents).expect("reads");
            let name = entry.name().expect("a name").into_owned();
            (
                name,
                (entry.unix_mode().unwrap_or_default() & 0o7777, contents),
            )
        })
        .collect()
}

#[test]
fn the_configurator_builds_verifiable_bundles_in_chromium_without_a_single_outside_request() {
    let root = workspace();
    let page = built_page();
    let runner = root.join("tests/web/e2e.mjs");
    assert!(
        root.join("tests/web/node_modules/playwright-core").is_dir(),
        "tests/web/node_modules is missing: run `npm ci --prefix tests/web`"
    );
    require_program("chromium");
    let out = std::env::temp_dir().join(format!("kbundle-web-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("scratch");

    let (url, asked) = serve(page.clone());
    let mut node = command(require_program("node"));
    node.arg(&runner)
        .arg(&url)
        .arg(&out)
        .arg(root.join("tests/fixtures/clusters/dual-stack.yaml"))
        .arg(format!("file://{}", page.display()));
    let finished = run(node, Duration::from_secs(300));
    finished.expect_success();

    let checks: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("checks.json")).expect("the script wrote checks.json"),
    )
    .expect("checks.json is JSON");
    let check = |name: &str| checks.get(name).cloned().unwrap_or_default();
    assert_eq!(check("problems"), serde_json::json!([]), "{checks:#}");
    assert_eq!(check("nodeCount"), 3);
    assert_eq!(check("emptyBlocked"), true, "no nodes: download refused");
    let error = check("badAddressError").to_string();
    assert!(error.contains("not an IP address"), "{error}");
    assert!(
        error.contains("Fix:"),
        "the error says how to fix it: {error}"
    );
    assert_eq!(check("badAddressInvalid"), "true");
    assert_eq!(check("badAddressBlocked"), true);
    assert!(
        check("blockedText")
            .to_string()
            .contains("spec.nodes[1].address")
    );
    assert_eq!(check("fixedEnabled"), true);
    assert!(check("planNoProxy").to_string().contains("198.51.100.11"));
    assert_eq!(check("downloadName"), "e2e-bundle.zip");
    assert!(
        check("doneText")
            .to_string()
            .contains("kbundle apply e2e-bundle.zip")
    );
    assert_eq!(check("exportName"), "e2e.yaml");
    assert_eq!(
        check("afterReloadName"),
        "e2e",
        "the form survives a reload"
    );
    assert_eq!(check("afterReloadNodes"), 3);
    assert_eq!(check("afterStartOverName"), "demo");
    assert_eq!(check("afterImportName"), "e2e");
    assert_eq!(check("afterImportNodes"), 3);
    assert_eq!(check("fixtureNodes"), 3);
    assert_eq!(check("mapFamilies"), serde_json::json!(["IPv4", "IPv6"]));
    assert!(check("overlapRects").as_u64().unwrap_or(0) >= 1);
    assert_eq!(check("overlapBlocked"), true);
    assert_eq!(
        check("phoneOverflow"),
        0,
        "no sideways scrolling on a phone"
    );
    assert_eq!(
        check("unlabelled"),
        serde_json::json!([]),
        "every input has a label"
    );
    assert_eq!(check("fileUrlDownload"), "demo-bundle.zip");
    assert_eq!(check("droppedName"), "dropped", "drag and drop imports");
    let storage = check("storage").to_string();
    assert!(storage.contains("puller"), "the form is stored: {storage}");
    assert!(
        !storage.contains("pa55-never-stored"),
        "a password reached local storage: {storage}"
    );
    assert!(check("encryptedDoneText").to_string().contains("encrypted"));

    // The expiry timeline of the bundle built, and the next bundle of the running cluster.
    let timeline = check("builtTimeline").to_string();
    assert!(
        timeline.contains("the first expires on") && !timeline.contains("within 30 days"),
        "{timeline}"
    );
    assert_eq!(
        check("builtTimelineClosedRows"),
        0,
        "rows are drawn only once the timeline is opened"
    );
    // Three CAs and, for three nodes, a dozen certificates and kubeconfigs.
    assert!(
        check("builtTimelineRows").as_u64().unwrap_or(0) > 12,
        "{checks:#}"
    );
    assert!(
        check("previousSummary")
            .to_string()
            .contains("next one of cluster e2e"),
        "{checks:#}"
    );
    assert_eq!(
        check("previousTimelineRows"),
        check("builtTimelineRows"),
        "the dropped bundle's timeline is the one it was built with"
    );
    assert_eq!(check("nextButton"), "Download the next e2e-bundle.zip");
    let kept = check("nextKept").to_string();
    assert!(kept.contains("kept 3 of 3 CAs"), "{kept}");
    let (kept_rows, new_rows) = (
        check("nextTimelineKept").as_u64().unwrap_or(0),
        check("nextTimelineNew").as_u64().unwrap_or(0),
    );
    // The worker added needs its own kubelet client only; everything else is kept.
    assert_eq!(
        (kept_rows, new_rows),
        (check("builtTimelineRows").as_u64().unwrap_or(0), 1),
        "{checks:#}"
    );
    assert_eq!(check("afterForgetButton"), "Download e2e-bundle.zip");
    assert!(
        !check("storageAfterPrevious")
            .to_string()
            .contains("PRIVATE KEY"),
        "a key reached local storage"
    );
    assert!(
        check("previousWrongPassphrase")
            .to_string()
            .contains("the passphrase does not open it"),
        "{checks:#}"
    );
    assert!(
        check("previousEncryptedSummary")
            .to_string()
            .contains("made from e2e-encrypted-bundle.zip"),
        "{checks:#}"
    );

    // Import gives the same form back: exporting it again gives the same file.
    let exported = std::fs::read_to_string(out.join("exported.yaml")).expect("exported");
    let reexported = std::fs::read_to_string(out.join("reexported.yaml")).expect("reexported");
    assert_eq!(exported, reexported);
    assert!(exported.contains("198.51.100.12"), "{exported}");

    // Nothing but the page itself was asked for: over HTTP only `/`, and in the browser only
    // the page and the worker's blob: URL.
    let asked = asked.lock().expect("lock").clone();
    assert!(
        asked.iter().all(|path| path == "/"),
        "the server was asked for {asked:?}"
    );
    let requests: Vec<String> =
        serde_json::from_slice(&std::fs::read(out.join("requests.json")).expect("requests.json"))
            .expect("JSON");
    let file_url = format!("file://{}", page.display());
    let outside: Vec<&String> = requests
        .iter()
        .filter(|r| **r != url && **r != file_url && !r.starts_with("blob:"))
        .collect();
    assert!(outside.is_empty(), "requests beyond the page: {outside:?}");

    // Every downloaded bundle passes kbundle's own checks and openssl's.
    for zip in [
        "e2e-bundle.zip",
        "e2e-next-bundle.zip",
        "e2e-rsa-bundle.zip",
        "from-file-url.zip",
    ] {
        let verified = kbundle(&["verify", zip], &out);
        assert!(
            verified.expect_success().contains("ok:"),
            "{zip}: {}",
            verified.output()
        );
        let unpacked = out.join(format!("{zip}.d"));
        unzip(&out.join(zip), &unpacked);
        openssl_verifies(&unpacked);
    }
    // The next bundle keeps the cluster's identity: the CAs and service-account keys, every
    // node file of the nodes that were there, and the new worker's certificates come from the
    // first bundle's CA (openssl_verifies above checks cp1's; here the newcomer's kubeconfig).
    let first = entries(&out.join("e2e-bundle.zip.d"));
    let next = entries(&out.join("e2e-next-bundle.zip.d"));
    for (path, contents) in &first {
        let node_file = path.starts_with("nodes/cp1/")
            || path.starts_with("nodes/worker1/")
            || path.starts_with("nodes/worker2/");
        if node_file && !path.ends_with("/checksums.sha256") && !path.ends_with("install.sh") {
            assert_eq!(
                next.get(path),
                Some(contents),
                "{path} changed in the next bundle"
            );
        }
    }
    assert!(
        next.keys().any(|path| path.starts_with("nodes/worker3/")),
        "the added worker: {:?}",
        next.keys().collect::<Vec<_>>()
    );
    let diff = kbundle(&["diff", "e2e-bundle.zip", "e2e-next-bundle.zip"], &out);
    let said = diff.output();
    assert!(said.contains("worker3"), "{said}");

    let rsa_key =
        out.join("e2e-rsa-bundle.zip.d/nodes/cp1/rootfs/etc/kubernetes/pki/apiserver.key");
    let mut openssl = command(require_program("openssl"));
    openssl
        .args(["rsa", "-check", "-noout", "-in"])
        .arg(&rsa_key);
    run(openssl, Duration::from_secs(30)).expect_success();

    // The same zip as `kbundle generate` makes from the exported cluster.yaml, apart from the
    // keys and what carries them: every file has a twin, and every key-free file is identical.
    let generated = kbundle(&["generate", "exported.yaml", "-o", "cli-bundle.zip"], &out);
    generated.expect_success();
    unzip(&out.join("cli-bundle.zip"), &out.join("cli-bundle.zip.d"));
    let from_page = entries(&out.join("e2e-bundle.zip.d"));
    let from_cli = entries(&out.join("cli-bundle.zip.d"));
    assert_eq!(
        from_page.keys().collect::<Vec<_>>(),
        from_cli.keys().collect::<Vec<_>>()
    );
    let key_free = [
        "cluster.yaml",
        "plan.json",
        "plan.txt",
        "artifacts.json",
        "addons/00-nodes.yaml",
        "addons/30-kube-proxy.yaml",
        "addons/40-coredns.yaml",
        "addons/50-flannel.yaml",
        "nodes/cp1/rootfs/etc/kubernetes/manifests/etcd.yaml",
        "nodes/cp1/rootfs/etc/kubernetes/manifests/kube-apiserver.yaml",
        "nodes/cp1/rootfs/etc/kubernetes/manifests/kube-controller-manager.yaml",
        "nodes/cp1/rootfs/etc/kubernetes/manifests/kube-scheduler.yaml",
        "nodes/worker1/rootfs/var/lib/kubelet/config.yaml",
        "nodes/worker1/rootfs/etc/containerd/config.toml",
    ];
    // A static pod names the digest of its node's keys and certificates (so that it restarts
    // on new ones): that one line differs with the keys.
    let without_digest = |bytes: Option<&Vec<u8>>| {
        bytes.map(|bytes| {
            String::from_utf8_lossy(bytes)
                .lines()
                .filter(|line| !line.contains("kbundle.dev/pki-sha256:"))
                .collect::<Vec<_>>()
                .join("\n")
        })
    };
    for name in key_free {
        assert!(
            without_digest(from_page.get(name)) == without_digest(from_cli.get(name))
                && from_page.contains_key(name),
            "{name} differs between the page's bundle and kbundle generate's"
        );
    }

    // The exports offered beside the bundle are what `kbundle export` writes from the same
    // bundle: every file, byte for byte, with its mode.
    assert_eq!(check("ansibleName"), "e2e-ansible.zip");
    assert_eq!(check("cloudInitName"), "e2e-cloud-init.zip");
    assert!(
        check("ansibleDone")
            .to_string()
            .contains("ansible-playbook playbook.yml"),
        "{checks:#}"
    );
    assert!(
        check("cloudInitDone")
            .to_string()
            .contains("Google Compute Engine"),
        "{checks:#}"
    );
    let too_large = check("cloudInitTooLarge").to_string();
    assert!(
        too_large.contains("node `cp1`") && too_large.contains("16384"),
        "{too_large}"
    );
    std::fs::write(out.join("passphrase"), "correct horse battery staple").expect("writes");
    for (page_zip, passphrase, bundle, cli_args) in [
        ("e2e-ansible.zip", None, "e2e-bundle.zip", &["ansible"][..]),
        (
            "e2e-cloud-init.zip",
            None,
            "e2e-bundle.zip",
            &["cloud-init", "--limit", "gce"][..],
        ),
        (
            "e2e-encrypted-ansible.zip",
            Some("correct horse battery staple"),
            "e2e-encrypted-bundle.zip",
            &["ansible", "--passphrase-file", "passphrase"][..],
        ),
    ] {
        let folder = format!("{page_zip}.cli");
        let mut args = vec!["export", cli_args[0], bundle, "-o", &folder];
        args.extend_from_slice(&cli_args[1..]);
        kbundle(&args, &out).expect_success();
        let from_cli = folder_files(&out.join(&folder));
        let from_page = zip_files(&out.join(page_zip), passphrase);
        let prefix = format!(
            "{}/",
            page_zip.replace("encrypted-", "").trim_end_matches(".zip")
        );
        let from_page: BTreeMap<String, (u32, Vec<u8>)> = from_page
            .into_iter()
            .map(|(name, file)| (name.strip_prefix(&prefix).unwrap_or(&name).to_owned(), file))
            .collect();
        assert_eq!(
            from_page.keys().collect::<Vec<_>>(),
            from_cli.keys().collect::<Vec<_>>(),
            "{page_zip}"
        );
        for (name, file) in &from_cli {
            assert!(
                from_page.get(name) == Some(file),
                "{page_zip}: {name} differs from kbundle export's"
            );
        }
        if passphrase.is_some() {
            let mut archive =
                zip::ZipArchive::new(std::fs::File::open(out.join(page_zip)).expect("opens"))
                    .expect("a zip");
            assert!(
                archive.by_index(0).is_err(),
                "{page_zip} opens without the bundle's passphrase"
            );
        }
    }

    // The screenshot for the README, when asked to refresh it.
    if std::env::var_os("KBUNDLE_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(out.join("page.png"), root.join("docs/configurator.png"))
            .expect("copies the screenshot");
    }
    let _ = std::fs::remove_dir_all(&out);
}
