//! `kbundle apply` brings up a cluster that the real Kubernetes components accept: every phase
//! runs, none skipped, against kube-apiserver, etcd, kube-controller-manager, kube-scheduler,
//! the kubelet and kube-proxy built from `k8s.io/kubernetes` (scripts/build-kubernetes.sh), on
//! the sshd lab nodes. The lab kubelet (`kbundle_tests::kubernetes`) plays only the container
//! runtime: it runs the static pods with the real binaries, a hollow kubelet per node, and the
//! real kubelet once with the installed unit's command line.
//!
//! Scenarios: one control-plane node and two workers (every check, a no-op second apply, the
//! API server killed mid-apply, a worker joining later, a bundle that would move its pod range
//! refused, reset and a fresh CA); three
//! control-plane nodes behind haproxy; dual-stack.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kbundle_tests::kubernetes::{ClusterLab, ClusterShape, Run, node_logs, real_kubelet_verdict};

const KBUNDLE: &str = env!("CARGO_BIN_EXE_kbundle");

fn kbundle() -> PathBuf {
    PathBuf::from(KBUNDLE)
}

/// The planned pod ranges, by node name, from the bundle's plan.json.
fn planned_ranges(cluster: &ClusterLab, zip: &Path) -> Vec<(String, Vec<String>)> {
    let plan: serde_json::Value = serde_json::from_slice(
        &std::fs::read(cluster.extract(zip, "plan.json")).expect("plan.json"),
    )
    .expect("plan.json parses");
    plan["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| {
            (
                node["name"].as_str().expect("name").to_owned(),
                node["pod_cidrs"]
                    .as_array()
                    .expect("pod_cidrs")
                    .iter()
                    .map(|c| c.as_str().expect("cidr").to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// Every node of the shape is Ready with exactly its planned pod ranges.
fn assert_nodes_ready_with_planned_ranges(cluster: &ClusterLab, zip: &Path, admin: &Path) {
    cluster.wait_ready(admin, Duration::from_secs(120));
    let nodes = cluster.kubectl(admin, &["get", "nodes", "-o", "json"]);
    let nodes: serde_json::Value = serde_json::from_str(nodes.expect_success()).expect("json");
    for (name, ranges) in planned_ranges(cluster, zip) {
        let node = nodes["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|n| n["metadata"]["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} is not registered"));
        let actual: Vec<&str> = node["spec"]["podCIDRs"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(actual, ranges, "{name}'s pod ranges");
    }
}

/// Every object of every addon exists as rendered: a server-side diff of each addon file
/// against the live objects is empty.
fn assert_addons_as_rendered(cluster: &ClusterLab, zip: &Path, admin: &Path) {
    let bundle = cluster.bundle(zip);
    let addons: Vec<String> = bundle
        .manifest
        .files
        .iter()
        .map(|f| f.path.clone())
        .filter(|p| p.starts_with("addons/"))
        .collect();
    assert!(addons.len() >= 5, "{addons:?}");
    for addon in addons {
        let file = applied_part_of(cluster, zip, admin, &addon);
        let file = file.display().to_string();
        let listed = cluster.kubectl(admin, &["get", "-f", &file, "-o", "name"]);
        let text = std::fs::read_to_string(&file).expect("addon");
        let rendered = text.matches("\nkind: ").count() + usize::from(text.starts_with("kind: "));
        assert!(listed.success(), "{addon}: {listed}");
        assert!(
            listed.stdout.lines().count() >= rendered.max(1),
            "{addon}: {} objects rendered, these exist:\n{listed}",
            rendered
        );
        if addon == "addons/00-nodes.yaml" {
            // Nodes are shared with the kubelet, the node lifecycle controller and
            // administrators: what the bundle declares must be there, beside what others add.
            assert_nodes_hold_what_the_bundle_declares(cluster, admin, &file);
            continue;
        }
        let diff = cluster.kubectl(
            admin,
            &["diff", "--server-side", "--force-conflicts", "-f", &file],
        );
        assert!(
            diff.success(),
            "{addon} differs from what the API server holds:\n{diff}"
        );
    }
}

/// Every Node of `file` (00-nodes.yaml) has the labels, pod ranges and taints it declares.
fn assert_nodes_hold_what_the_bundle_declares(cluster: &ClusterLab, admin: &Path, file: &str) {
    let declared = cluster.kubectl(
        admin,
        &["create", "--dry-run=client", "-o", "json", "-f", file],
    );
    // One JSON object per document, one after the other.
    let declared: Vec<serde_json::Value> =
        serde_json::Deserializer::from_str(declared.expect_success())
            .into_iter::<serde_json::Value>()
            .collect::<Result<_, _>>()
            .expect("json");
    let live = cluster.kubectl(admin, &["get", "-f", file, "-o", "json"]);
    let live: serde_json::Value = serde_json::from_str(live.expect_success()).expect("json");
    let items = |list: &serde_json::Value| -> Vec<serde_json::Value> {
        match list["items"].as_array() {
            Some(items) => items.clone(),
            None => vec![list.clone()],
        }
    };
    let live = items(&live);
    assert!(!declared.is_empty(), "{file} declares Nodes");
    for node in declared {
        let name = node["metadata"]["name"].as_str().expect("a name");
        let actual = live
            .iter()
            .find(|n| n["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("Node {name} does not exist"));
        for (key, value) in node["metadata"]["labels"].as_object().into_iter().flatten() {
            assert_eq!(
                &actual["metadata"]["labels"][key], value,
                "{name}: label {key}"
            );
        }
        assert_eq!(
            actual["spec"]["podCIDRs"], node["spec"]["podCIDRs"],
            "{name}: pod ranges"
        );
        let live_taints = actual["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for taint in node["spec"]["taints"].as_array().into_iter().flatten() {
            assert!(
                live_taints.iter().any(|t| t["key"] == taint["key"]
                    && t["effect"] == taint["effect"]
                    && t["value"] == taint["value"]),
                "{name}: taint {taint} is missing from {live_taints:?}"
            );
        }
    }
}

/// CoreDNS, kube-proxy and the CNI DaemonSet have pods scheduled, on every node for the
/// DaemonSets.
fn assert_addon_pods_scheduled(cluster: &ClusterLab, admin: &Path) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let node_count = cluster.shape.nodes().count();
    loop {
        let pods = cluster.kubectl(admin, &["get", "pods", "-A", "-o", "json"]);
        let pods: serde_json::Value = serde_json::from_str(pods.expect_success()).expect("json");
        let scheduled = |prefix: &str| -> usize {
            pods["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| {
                    p["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with(prefix))
                        && p["spec"]["nodeName"]
                            .as_str()
                            .is_some_and(|n| !n.is_empty())
                })
                .count()
        };
        let (dns, proxy, flannel) = (
            scheduled("coredns-"),
            scheduled("kube-proxy-"),
            scheduled("kube-flannel-"),
        );
        if dns >= 1 && proxy == node_count && flannel == node_count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "scheduled: coredns {dns}, kube-proxy {proxy}/{node_count}, flannel {flannel}/{node_count}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// `kubectl auth can-i` as `kubeconfig` gives `expected` for each of `checks`.
fn assert_can_i(cluster: &ClusterLab, who: &str, kubeconfig: &Path, checks: &[(&str, bool)]) {
    for (check, expected) in checks {
        let mut args = vec!["auth", "can-i"];
        args.extend(check.split(' '));
        let answer = cluster.kubectl(kubeconfig, &args);
        let yes = answer.stdout.trim() == "yes";
        assert_eq!(
            yes,
            *expected,
            "{who}: can-i {check}: expected {}, got:\n{answer}",
            if *expected { "yes" } else { "no" }
        );
    }
}

/// Each kubeconfig works for its component and no further.
fn assert_least_privilege(cluster: &ClusterLab, zip: &Path, admin: &Path) {
    assert_can_i(
        cluster,
        "admin",
        admin,
        &[("* * --all-namespaces", true), ("delete nodes", true)],
    );
    let first = cluster.lab.node_name(1).to_owned();
    let controller_manager = cluster.extract(
        zip,
        &format!("nodes/{first}/rootfs/etc/kubernetes/controller-manager.conf"),
    );
    assert_can_i(
        cluster,
        "kube-controller-manager",
        &controller_manager,
        &[
            ("get secrets -n kube-system", true),
            ("create serviceaccounts/token -n kube-system", true),
            ("create deployments", false),
            ("* *", false),
        ],
    );
    let scheduler = cluster.extract(
        zip,
        &format!("nodes/{first}/rootfs/etc/kubernetes/scheduler.conf"),
    );
    assert_can_i(
        cluster,
        "kube-scheduler",
        &scheduler,
        &[
            ("create bindings", true),
            ("create pods --subresource=binding", true),
            ("list nodes", true),
            ("get secrets -n kube-system", false),
            ("create deployments", false),
        ],
    );
    let worker_index = cluster.shape.control_planes + 1;
    let worker = cluster.lab.node_name(worker_index).to_owned();
    let other = cluster.lab.node_name(1).to_owned();
    let kubelet = cluster.extract(
        zip,
        &format!("nodes/{worker}/rootfs/etc/kubernetes/kubelet.conf"),
    );
    assert_can_i(
        cluster,
        &format!("the kubelet of {worker}"),
        &kubelet,
        &[
            (&format!("get nodes/{worker}"), true),
            (&format!("get nodes/{other}"), false),
            ("get secrets -n kube-system", false),
            ("create deployments", false),
        ],
    );
}

/// A ServiceAccount token issued by the API server is accepted by it.
fn assert_service_account_token_accepted(cluster: &ClusterLab, zip: &Path, admin: &Path) {
    let token = service_account_token(cluster, admin);
    assert_token_accepted(cluster, zip, admin, &token);
}

/// A fresh token of the `default` ServiceAccount.
fn service_account_token(cluster: &ClusterLab, admin: &Path) -> String {
    // kube-controller-manager creates the `default` ServiceAccount soon after it starts.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let token = loop {
        let token = cluster.kubectl(admin, &["create", "token", "default", "-n", "default"]);
        if token.success() || std::time::Instant::now() > deadline {
            break token;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    let token = token.expect_success().trim().to_owned();
    assert!(token.split('.').count() == 3, "a JWT: {token}");
    token
}

/// The API server takes `token` as the `default` ServiceAccount's.
fn assert_token_accepted(cluster: &ClusterLab, zip: &Path, admin: &Path, token: &str) {
    let ca = cluster.extract(
        zip,
        &format!(
            "nodes/{}/rootfs/etc/kubernetes/pki/ca.crt",
            cluster.lab.node_name(1)
        ),
    );
    let server = cluster.kubectl(
        admin,
        &[
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ],
    );
    let mut command = cluster.lab.command(cluster.binaries.component("kubectl"));
    command
        .args([
            "--kubeconfig",
            "/dev/null",
            "--server",
            server.stdout.trim(),
        ])
        .arg(format!("--certificate-authority={}", ca.display()))
        .args([
            "--token",
            token,
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ]);
    let whoami = kbundle_tests::programs::run(command, Duration::from_secs(30));
    assert_eq!(
        whoami.stdout.trim(),
        "system:serviceaccount:default:default",
        "{whoami}"
    );
}

/// The real kubelet accepted the installed unit's command line and configuration on every node.
fn assert_real_kubelets_accept_their_configuration(cluster: &ClusterLab) {
    for index in cluster.shape.nodes() {
        let verdict = real_kubelet_verdict(&cluster.lab, index, Duration::from_secs(60));
        assert!(
            verdict.starts_with("passed"),
            "{}: {verdict}",
            cluster.lab.node_name(index)
        );
    }
}

fn admin_conf(cluster: &ClusterLab, zip: &Path) -> PathBuf {
    cluster.extract(zip, "admin.conf")
}

/// Starts `kbundle apply` and, as soon as phase `phase` begins, kills the API server of node 1
/// and keeps it down (a crash loop, until [`release_api_server`]); returns the run.
fn apply_killing_the_api_server_at(cluster: &ClusterLab, zip: &Path, phase: &str) -> Run {
    use std::io::BufRead as _;
    let mut command = cluster.apply_command(zip, &["--wait-timeout", "20"]);
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("kbundle apply starts");
    let stdout = child.stdout.take().expect("stdout");
    let collect = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let mut stderr = String::new();
    let mut killed = false;
    for line in std::io::BufReader::new(child.stderr.take().expect("stderr")).lines() {
        let line = line.unwrap_or_default();
        if !killed && line.starts_with(&format!("== {phase}:")) {
            let pid = cluster
                .static_pod_pid(1, "kube-apiserver")
                .expect("kube-apiserver runs on node1 when the phase begins");
            let held = cluster.root(
                1,
                &format!("mkdir -p /run/kbundle-lab/hold && touch /run/kbundle-lab/hold/kube-apiserver && kill -KILL {pid}"),
            );
            assert!(held.success(), "{held}");
            killed = true;
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    let status = child.wait().expect("kbundle apply ends");
    assert!(killed, "phase {phase} never began:\n{stderr}");
    Run {
        code: status.code(),
        stdout: collect.join().unwrap_or_default(),
        stderr,
    }
}

/// Lets node 1's API server start again (its lab kubelet restarts it).
fn release_api_server(cluster: &ClusterLab) {
    let released = cluster.root(1, "rm -f /run/kbundle-lab/hold/kube-apiserver");
    assert!(released.success(), "{released}");
}

/// The pids of every static pod and of the lab kubelet on every node of the shape.
fn running_processes(cluster: &ClusterLab) -> Vec<(String, Option<u32>)> {
    let mut pids = Vec::new();
    for index in cluster.shape.nodes() {
        let node = cluster.lab.node_name(index).to_owned();
        let listed = cluster.root(
            index,
            "cd /run/kbundle-lab && for f in kubelet.pid hollow-kubelet.pid pods/*.pid; do [ -f \"$f\" ] && echo \"$f $(cat \"$f\")\"; done",
        );
        for line in listed.stdout.lines() {
            let (file, pid) = line.split_once(' ').unwrap_or((line, ""));
            pids.push((format!("{node}:{file}"), pid.trim().parse().ok()));
        }
    }
    pids
}

#[test]
fn one_control_plane_and_two_workers_come_up_and_stay_up() {
    let mut shape = ClusterShape::new("single", 1, 2);
    shape.node_fields.push((
        2,
        "labels: {disk: ssd}, taints: [\"dedicated=infra:NoSchedule\"]".to_owned(),
    ));
    // node4 is not in the cluster: it joins later.
    let cluster = ClusterLab::new(shape.clone(), 4, &kbundle());
    let zip =
        generate_with_the_token_expired(&cluster, &shape.cluster_yaml(&cluster.lab), "single");

    // The API server dies while apply needs it: the run fails naming the phase and the node;
    // once it is back, the same command completes.
    let failed = apply_killing_the_api_server_at(&cluster, &zip, "node-ranges");
    assert!(!failed.success(), "the run must fail: {failed}");
    let named = failed.stderr.lines().any(|line| {
        line.starts_with("node1 ")
            && ["node-ranges", "controller-manager", "addons", "validate"]
                .iter()
                .any(|phase| line.contains(&format!("FAILED in {phase}:")))
    });
    assert!(named, "the failure names the phase and the node:\n{failed}");
    release_api_server(&cluster);
    let run = cluster.apply(&zip, &["--wait-timeout", "180"]);
    let logs: String = shape.nodes().map(|i| node_logs(&cluster.lab, i)).collect();
    assert!(run.success(), "{run}\n{logs}");
    assert!(!run.stderr.contains("skipped"), "no phase skipped: {run}");
    assert_the_expired_token_was_left_out(&run);

    let admin = admin_conf(&cluster, &zip);
    assert_nodes_ready_with_planned_ranges(&cluster, &zip, &admin);
    assert_real_kubelets_accept_their_configuration(&cluster);
    assert_addons_as_rendered(&cluster, &zip, &admin);
    assert_addon_pods_scheduled(&cluster, &admin);
    assert_least_privilege(&cluster, &zip, &admin);
    assert_service_account_token_accepted(&cluster, &zip, &admin);
    assert_kube_proxy_serves_the_kubernetes_service(&cluster, &zip, &admin);
    // node2's labels and taints from cluster.yaml are on its Node.
    let node2 = cluster.kubectl(
        &admin,
        &[
            "get",
            "node",
            "node2",
            "-o",
            "jsonpath={.metadata.labels.disk} {.spec.taints}",
        ],
    );
    let node2 = node2.expect_success();
    assert!(
        node2.starts_with("ssd ")
            && node2.contains(r#""key":"dedicated""#)
            && node2.contains(r#""value":"infra""#)
            && node2.contains(r#""effect":"NoSchedule""#),
        "node2: {node2}"
    );

    // An administrator's taint (and the node lifecycle controller's would be the same) must
    // survive a re-apply: a Node's taints are one atomic list.
    let tainted = cluster.kubectl(
        &admin,
        &["taint", "node", "node3", "maintenance=true:NoSchedule"],
    );
    tainted.expect_success();

    // A second apply changes and restarts nothing: same processes, no service restarted.
    let before = running_processes(&cluster);
    let calls_before: Vec<usize> = shape
        .nodes()
        .map(|i| cluster.lab.service_calls(i).len())
        .collect();
    let again = cluster.apply(&zip, &["--wait-timeout", "60"]);
    assert!(again.success(), "{again}");
    assert_eq!(
        again
            .stderr
            .matches("already installed: nothing changed")
            .count(),
        shape.nodes().count(),
        "{again}"
    );
    assert_eq!(running_processes(&cluster), before, "nothing restarted");
    let taints = cluster.kubectl(
        &admin,
        &[
            "get",
            "nodes",
            "node2",
            "node3",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.spec.taints}{\"\\n\"}{end}",
        ],
    );
    let taints = taints.expect_success();
    assert!(
        taints
            .lines()
            .any(|l| l.starts_with("node3 ") && l.contains(r#""key":"maintenance""#))
            && taints
                .lines()
                .any(|l| l.starts_with("node2 ") && l.contains(r#""key":"dedicated""#)),
        "the administrator's taint and the declared one survive a re-apply: {taints}"
    );
    for index in shape.nodes() {
        let calls = cluster.lab.service_calls(index);
        let new = &calls[calls_before[index - 1]..];
        assert!(
            new.iter().all(|call| !call.contains("restart")),
            "node{index} restarted: {new:?}"
        );
    }

    // A worker added after the cluster is up joins by the README's procedure. The bundle's
    // join/ no longer can (its token expired); the folder `kbundle join-token` writes can: the
    // real kubelet requests its certificate with the new token, the cluster signs it, the node
    // turns Ready.
    let readme = std::fs::read_to_string(cluster.extract(&zip, "README.md")).expect("README");
    assert!(readme.contains("sh join/install.sh"), "{readme}");
    assert!(readme.contains("kbundle join-token"), "{readme}");
    assert_the_bundles_join_folder_cannot_bootstrap(&cluster, &zip);
    join_node4_with_a_fresh_token(&cluster, &zip);
    cluster.wait_nodes_ready(&admin, &["node4"], Duration::from_secs(120));
    let verdict = real_kubelet_verdict(&cluster.lab, 4, Duration::from_secs(60));
    assert!(verdict.starts_with("passed"), "node4: {verdict}");
    let certificate = cluster.root(
        4,
        "openssl verify -CAfile /etc/kubernetes/pki/ca.crt /var/lib/kubelet/pki/kubelet-client-current.pem && \
         openssl x509 -noout -subject -in /var/lib/kubelet/pki/kubelet-client-current.pem",
    );
    let certificate = certificate.expect_success();
    assert!(
        certificate.contains(": OK") && certificate.contains("CN = system:node:node4"),
        "node4's certificate is signed by the cluster CA: {certificate}"
    );
    let range = cluster.kubectl(
        &admin,
        &["get", "node", "node4", "-o", "jsonpath={.spec.podCIDR}"],
    );
    let range = range.expect_success().trim().to_owned();
    assert!(
        !range.is_empty(),
        "node4 got a pod range from kube-controller-manager"
    );
    assert!(
        planned_ranges(&cluster, &zip)
            .iter()
            .all(|(_, ranges)| !ranges.contains(&range)),
        "node4's range {range} is not a planned node's"
    );

    assert_a_bundle_that_would_move_a_range_is_refused(&cluster, &shape, &zip, &admin);

    // reset, then a freshly generated bundle of the same nodes (a new CA): Ready again.
    let reset = cluster.kbundle_run(&[
        "reset",
        &zip.display().to_string(),
        "--wipe-data",
        "--ssh-config",
        "/dev/null",
        "--known-hosts",
        &cluster.lab.known_hosts().display().to_string(),
    ]);
    assert!(reset.success(), "{reset}");
    for index in shape.nodes() {
        assert!(
            cluster.static_pod_pid(index, "kube-apiserver").is_none()
                && cluster.static_pod_pid(index, "etcd").is_none(),
            "reset stopped the static pods on node{index}"
        );
    }
    let fresh = cluster.generate(&shape.cluster_yaml(&cluster.lab), "single-fresh");
    let ca = |zip: &Path| {
        std::fs::read(cluster.extract(zip, "nodes/node1/rootfs/etc/kubernetes/pki/ca.crt"))
            .expect("ca")
    };
    assert_ne!(ca(&zip), ca(&fresh), "a fresh bundle has a new CA");
    let run = cluster.apply(&fresh, &["--wait-timeout", "180"]);
    let logs: String = shape.nodes().map(|i| node_logs(&cluster.lab, i)).collect();
    assert!(run.success(), "{run}\n{logs}");
    let admin = admin_conf(&cluster, &fresh);
    assert_nodes_ready_with_planned_ranges(&cluster, &fresh, &admin);
}

/// node4 (joined, with the range kube-controller-manager gave it) is inserted at the top of
/// cluster.yaml and the bundle generated again with `--previous`: node1-3 keep their ranges in
/// the plan, and since node4's planned range is not the one it has, the API server would refuse
/// it: `node-ranges` stops before changing anything, naming node4, both ranges and the fix.
fn assert_a_bundle_that_would_move_a_range_is_refused(
    cluster: &ClusterLab,
    shape: &ClusterShape,
    zip: &Path,
    admin: &Path,
) {
    let yaml = shape.cluster_yaml(&cluster.lab).replacen(
        "  nodes:\n",
        &format!(
            "  nodes:\n    - {{name: node4, address: \"{}\", roles: [worker]}}\n",
            cluster.lab.node_address(4)
        ),
        1,
    );
    let dir = cluster.lab.scratch_dir();
    let config = dir.join("single-node4.yaml");
    std::fs::write(&config, yaml).expect("write cluster.yaml");
    let moved = dir.join("single-node4.zip");
    let generated = cluster.kbundle_run(&[
        "generate",
        &config.display().to_string(),
        "-o",
        &moved.display().to_string(),
        "--previous",
        &zip.display().to_string(),
    ]);
    assert!(generated.success(), "{generated}");
    let old = planned_ranges(cluster, zip);
    let new = planned_ranges(cluster, &moved);
    for (name, ranges) in &old {
        assert!(
            new.contains(&(name.clone(), ranges.clone())),
            "{name} moved: {new:?}"
        );
    }
    let node4_range = || {
        let range = cluster.kubectl(
            admin,
            &["get", "node", "node4", "-o", "jsonpath={.spec.podCIDR}"],
        );
        range.expect_success().trim().to_owned()
    };
    let held = node4_range();
    let planned = &new
        .iter()
        .find(|(name, _)| name == "node4")
        .expect("node4 planned")
        .1[0];
    assert_ne!(
        &held, planned,
        "kube-controller-manager gives the first free range"
    );
    // Only node1, where node-ranges runs (the joined node4 stays as it is), and only the check:
    // `generate` made a new CA, so the bundle's files would replace the cluster's (hence also
    // --force: the journal names the old CA's cluster); node1's own super-admin.conf is used.
    let run = cluster.apply(
        &moved,
        &[
            "--nodes",
            "node1",
            "--force",
            "--skip-phase",
            "preflight,upload,install,start,wait-etcd,wait-apiserver",
            "--wait-timeout",
            "60",
        ],
    );
    assert!(!run.success(), "{run}");
    assert!(
        run.stderr.contains(&format!(
            "node node4 has the pod range {held} and this bundle plans {planned} for it"
        )) && run.stderr.contains("kbundle generate --from"),
        "{run}"
    );
    assert_eq!(node4_range(), held, "no Node was changed");
}

/// The real kube-proxy runs on every node with the rendered configuration, and its rules let
/// the node reach the API server through the `kubernetes` Service IP.
fn assert_kube_proxy_serves_the_kubernetes_service(cluster: &ClusterLab, zip: &Path, admin: &Path) {
    let service_ip = cluster.kubectl(
        admin,
        &[
            "get",
            "service",
            "kubernetes",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
    );
    let service_ip = service_ip.expect_success().trim().to_owned();
    for index in cluster.shape.nodes() {
        let pid = cluster.start_kube_proxy(index, zip, admin);
        let url = format!("https://{service_ip}:443/readyz");
        let check = format!(
            "for i in $(seq 1 40); do if curl -sk --max-time 1 {url} | grep -qx ok; then echo reached; exit 0; fi; sleep 0.25; done; \
             iptables-save -t nat | grep -e 'KUBE-SERVICES -d' -e KUBE-SEP; exit 1"
        );
        let reached = cluster.root(index, &check);
        let _ = cluster.root(index, &format!("kill {pid}"));
        assert!(
            reached.success() && reached.stdout.contains("reached"),
            "{} did not reach {url} through kube-proxy's rules:\n{reached}\nkube-proxy log:\n{}",
            cluster.lab.node_name(index),
            cluster
                .lab
                .read_node_file(index, "/var/log/kube-proxy.log")
                .unwrap_or_default()
                .lines()
                .rev()
                .take(12)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn three_control_plane_nodes_behind_haproxy_come_up() {
    let shape = ClusterShape::new("ha", 3, 1);
    let mut cluster = ClusterLab::new(shape, 4, &kbundle());
    let endpoint = cluster.start_load_balancer();
    let yaml = cluster.shape.cluster_yaml(&cluster.lab);
    assert!(
        yaml.contains(&endpoint) && yaml.contains("mode: external"),
        "{yaml}"
    );
    let zip = cluster.generate(&yaml, "ha");
    let run = cluster.apply(&zip, &["--wait-timeout", "240"]);
    let logs: String = cluster
        .shape
        .nodes()
        .map(|i| node_logs(&cluster.lab, i))
        .collect();
    assert!(run.success(), "{run}\n{logs}");
    assert!(!run.stderr.contains("skipped"), "no phase skipped: {run}");
    let admin = admin_conf(&cluster, &zip);
    let server = cluster.kubectl(
        &admin,
        &[
            "config",
            "view",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ],
    );
    assert_eq!(
        server.stdout.trim(),
        format!("https://{endpoint}"),
        "admin.conf goes through the load balancer"
    );
    assert_nodes_ready_with_planned_ranges(&cluster, &zip, &admin);
    assert_real_kubelets_accept_their_configuration(&cluster);
    assert_addons_as_rendered(&cluster, &zip, &admin);
    assert_addon_pods_scheduled(&cluster, &admin);
    assert_least_privilege(&cluster, &zip, &admin);

    // etcd: three members, all healthy (asked with the healthcheck client certificate).
    let members = cluster.root(
        1,
        "curl -fsS --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt \
         --key /etc/kubernetes/pki/etcd/healthcheck-client.key -X POST https://127.0.0.1:2379/v3/cluster/member/list",
    );
    let members: serde_json::Value = serde_json::from_str(members.expect_success()).expect("json");
    assert_eq!(
        members["members"].as_array().map(Vec::len),
        Some(3),
        "{members}"
    );
    // Every API server serves, and leader election picked one controller-manager and one
    // scheduler among the three.
    for index in 1..=3 {
        let ready = cluster.root(
            index,
            &format!(
                "curl -fsS --cacert /etc/kubernetes/pki/ca.crt https://{}:6443/readyz",
                cluster.lab.node_address(index)
            ),
        );
        assert_eq!(ready.stdout.trim(), "ok", "node{index}: {ready}");
    }
    for lease in ["kube-controller-manager", "kube-scheduler"] {
        let holder = cluster.kubectl(
            &admin,
            &[
                "get",
                "lease",
                lease,
                "-n",
                "kube-system",
                "-o",
                "jsonpath={.spec.holderIdentity}",
            ],
        );
        assert!(
            ["node1", "node2", "node3"]
                .iter()
                .any(|n| holder.stdout.starts_with(n)),
            "{lease} lease: {holder}"
        );
    }
}

#[test]
fn a_dual_stack_cluster_comes_up_with_both_families() {
    let mut shape = ClusterShape::new("dual", 1, 1);
    shape.dual_stack = true;
    let cluster = ClusterLab::new(shape.clone(), 2, &kbundle());
    let zip = cluster.generate(&shape.cluster_yaml(&cluster.lab), "dual");
    let run = cluster.apply(&zip, &["--wait-timeout", "180"]);
    let logs: String = shape.nodes().map(|i| node_logs(&cluster.lab, i)).collect();
    assert!(run.success(), "{run}\n{logs}");
    let admin = admin_conf(&cluster, &zip);
    assert_nodes_ready_with_planned_ranges(&cluster, &zip, &admin);
    for (_, ranges) in planned_ranges(&cluster, &zip) {
        assert!(
            ranges.len() == 2 && ranges[1].contains(':'),
            "an IPv4 and an IPv6 range: {ranges:?}"
        );
    }
    assert_real_kubelets_accept_their_configuration(&cluster);
    assert_addons_as_rendered(&cluster, &zip, &admin);
    assert_addon_pods_scheduled(&cluster, &admin);
    // The API server serves both service families: a dual-stack Service gets an IP of each.
    let created = cluster.kubectl(
        &admin,
        &[
            "create",
            "service",
            "clusterip",
            "both",
            "--tcp=80:80",
            "--dry-run=client",
            "-o",
            "json",
        ],
    );
    let mut service: serde_json::Value =
        serde_json::from_str(created.expect_success()).expect("json");
    service["spec"]["ipFamilyPolicy"] = "RequireDualStack".into();
    let file = cluster.lab.scratch_dir().join("both.json");
    std::fs::write(&file, service.to_string()).expect("write");
    let applied = cluster.kubectl(&admin, &["apply", "-f", &file.display().to_string()]);
    applied.expect_success();
    let ips = cluster.kubectl(
        &admin,
        &[
            "get",
            "service",
            "both",
            "-o",
            "jsonpath={.spec.clusterIPs}",
        ],
    );
    let ips: Vec<String> = serde_json::from_str(ips.expect_success()).expect("clusterIPs");
    assert!(ips.len() == 2 && ips[1].contains(':'), "{ips:?}");
    // IPv6 forwarding goes on, and the interface holding the node's address (eth0, which takes
    // router advertisements) keeps taking them: accept_ra 2 (with 1, forwarding would turn them
    // off). The lab's sysctl only records, so the settings are read from the file it loads.
    for index in shape.nodes() {
        let sysctls = cluster
            .lab
            .read_node_file(index, "/etc/sysctl.d/99-kubernetes.conf")
            .expect("the kernel settings");
        assert!(
            sysctls.contains("net.ipv6.conf.all.forwarding = 1\n")
                && sysctls.ends_with("net/ipv6/conf/eth0/accept_ra = 2\n"),
            "node {index}: {sysctls}"
        );
    }
}

/// The kubelet's and the control-plane static pods' pids on `index`, by name.
fn component_pids(cluster: &ClusterLab, index: usize) -> Vec<(String, Option<u32>)> {
    let mut pids = vec![(
        "kubelet".to_owned(),
        kbundle_tests::kubernetes::lab_kubelet_pid(&cluster.lab, index, "kubelet.pid"),
    )];
    if index <= cluster.shape.control_planes {
        for pod in [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ] {
            pids.push((pod.to_owned(), cluster.static_pod_pid(index, pod)));
        }
    }
    pids
}

#[test]
fn day_two_a_bundle_made_from_the_last_one_changes_only_what_changed() {
    let shape = ClusterShape::new("grow", 1, 1);
    let mut cluster = ClusterLab::new(shape.clone(), 3, &kbundle());
    let first = cluster.generate(&shape.cluster_yaml(&cluster.lab), "first");
    let run = cluster.apply(&first, &["--wait-timeout", "180"]);
    assert!(run.success(), "{run}");
    let admin = admin_conf(&cluster, &first);
    assert_nodes_ready_with_planned_ranges(&cluster, &first, &admin);
    let token = service_account_token(&cluster, &admin);
    let before: Vec<_> = shape
        .nodes()
        .map(|index| component_pids(&cluster, index))
        .collect();
    assert!(
        before.iter().flatten().all(|(_, pid)| pid.is_some()),
        "{before:?}"
    );

    // A label on node2 and a new worker node3, made from the bundle applied.
    let mut grown = ClusterShape::new("grow", 1, 2);
    grown.node_fields = vec![(2, "labels: {disk: ssd}".to_owned())];
    let second = cluster.generate_with(
        &grown.cluster_yaml(&cluster.lab),
        "second",
        &["--from", &first.display().to_string()],
    );
    // The diff names exactly the new node's files and node2's kubelet drop-in.
    let diff = cluster.kbundle_run(&[
        "diff",
        &first.display().to_string(),
        &second.display().to_string(),
    ]);
    let text = diff.stdout;
    assert!(
        text.contains(&format!("node {}:", cluster.lab.node_name(3))),
        "{text}"
    );
    let changed_nodes: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("node "))
        .collect();
    assert_eq!(changed_nodes.len(), 2, "{text}");
    // node2: its kubelet drop-in (the label), nothing else; no certificate anywhere but node3's.
    let node2: Vec<&str> = text
        .lines()
        .skip_while(|line| *line != format!("node {}:", cluster.lab.node_name(2)))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter(|line| !line.starts_with("    "))
        .collect();
    assert!(
        node2.len() == 2
            && node2[0]
                .starts_with("  changed   /etc/systemd/system/kubelet.service.d/99-kbundle.conf")
            && node2[1] == "  restarts: kubelet",
        "{text}"
    );

    cluster.shape = grown;
    let run = cluster.apply(&second, &["--wait-timeout", "180"]);
    assert!(run.success(), "{run}");
    assert_nodes_ready_with_planned_ranges(&cluster, &second, &admin);
    let labels = cluster.kubectl(
        &admin,
        &[
            "get",
            "node",
            cluster.lab.node_name(2),
            "-o",
            "jsonpath={.metadata.labels.disk}",
        ],
    );
    assert_eq!(labels.expect_success().trim(), "ssd");
    // Only node2's kubelet restarted: the control plane and node1's kubelet kept running.
    let after: Vec<_> = shape
        .nodes()
        .map(|index| component_pids(&cluster, index))
        .collect();
    assert_eq!(after[0], before[0], "node1 was restarted: {run}");
    assert_ne!(after[1][0], before[1][0], "node2's kubelet did not restart");
    // The old admin.conf and a ServiceAccount token issued before still work: same CAs, same
    // service-account keys.
    assert_token_accepted(&cluster, &second, &admin, &token);
    assert_eq!(
        std::fs::read(cluster.extract(&second, "admin.conf")).expect("admin.conf"),
        std::fs::read(&admin).expect("admin.conf"),
    );
}

/// The bundle of `yaml`, made as if two days ago: the certificates are valid, the bootstrap
/// token (24 hours) has expired, as for any bundle used a while after it was made.
fn generate_with_the_token_expired(cluster: &ClusterLab, yaml: &str, name: &str) -> PathBuf {
    let issued_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        - 2 * 24 * 3600;
    cluster.generate_with(yaml, name, &["--issued-at", &issued_at.to_string()])
}

/// What apply applied of `addon`: the file, or, when it holds a bootstrap token that has
/// expired, the file without it (written beside it). The left-out token must not exist: apply
/// did not bring back what the token cleaner deletes.
fn applied_part_of(cluster: &ClusterLab, zip: &Path, admin: &Path, addon: &str) -> PathBuf {
    let file = cluster.extract(zip, addon);
    let text = std::fs::read_to_string(&file).expect("addon");
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("time");
    let filtered = kbundle_core::bundle::token::without_expired_tokens(&text, now);
    if filtered.expired.is_empty() {
        return file;
    }
    for token in &filtered.expired {
        let secret = format!("bootstrap-token-{}", token.id);
        let found = cluster.kubectl(admin, &["-n", "kube-system", "get", "secret", &secret]);
        assert!(
            !found.success() && found.stderr.contains("NotFound"),
            "{addon}: the expired token {secret} was applied: {found}"
        );
    }
    let applied = file.with_extension("applied.yaml");
    std::fs::write(&applied, &filtered.documents).expect("write");
    applied
}

/// The API server refuses the bundle's join/ kubeconfig (its token expired), and a node that
/// installs that folder gets no certificate: its real kubelet is told Unauthorized.
fn assert_the_bundles_join_folder_cannot_bootstrap(cluster: &ClusterLab, zip: &Path) {
    let stale = cluster.extract(zip, "join/rootfs/etc/kubernetes/bootstrap-kubelet.conf");
    let refused = cluster.kubectl(
        &stale,
        &["auth", "can-i", "create", "certificatesigningrequests"],
    );
    assert!(
        !refused.success() && refused.stderr.contains("Unauthorized"),
        "the expired token is refused: {refused}"
    );
    cluster.copy_join_folder(zip, 4);
    let installed = cluster.lab.ssh(
        4,
        kbundle_tests::lab::SUDO_USER,
        &format!(
            "cd bundle && sudo sh join/install.sh node4 {}",
            cluster.lab.node_address(4)
        ),
    );
    assert!(installed.success(), "install.sh itself runs: {installed}");
    // The real kubelet asks for its certificate while it starts, and is refused.
    let verdict = real_kubelet_verdict(&cluster.lab, 4, Duration::from_secs(120));
    let log = cluster
        .lab
        .read_node_file(4, "/var/log/kbundle-lab/kubelet-real.log")
        .unwrap_or_default();
    assert!(
        log.contains("Unauthorized"),
        "node4's kubelet is refused with the bundle's join/ ({verdict}):\n{log}"
    );
    let certificate = cluster.root(4, "test -e /var/lib/kubelet/pki/kubelet-client-current.pem");
    assert!(!certificate.success(), "node4 got no client certificate");
}

/// `kbundle join-token` writes a join folder with a fresh token (secret never printed, the
/// kubeconfig 0600); node4 installs it the README's way, over what the stale folder placed.
fn join_node4_with_a_fresh_token(cluster: &ClusterLab, zip: &Path) {
    let folder = cluster.lab.scratch_dir().join("join-node4");
    let minted = cluster.kbundle_run(&[
        "join-token",
        &zip.display().to_string(),
        "-o",
        &folder.display().to_string(),
        "--ttl",
        "1h",
        "--ssh-config",
        "/dev/null",
        "--known-hosts",
        &cluster.lab.known_hosts().display().to_string(),
        "--connect-timeout",
        "5",
        "--log",
        &cluster
            .lab
            .scratch_dir()
            .join("join-token.log")
            .display()
            .to_string(),
    ]);
    assert!(minted.success(), "{minted}");
    let kubeconfig = folder.join("rootfs/etc/kubernetes/bootstrap-kubelet.conf");
    let text = std::fs::read_to_string(&kubeconfig).expect("bootstrap kubeconfig");
    let token = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("token: "))
        .expect("a token")
        .to_owned();
    let secret = token.split_once('.').expect("id.secret").1;
    let log =
        std::fs::read_to_string(cluster.lab.scratch_dir().join("join-token.log")).expect("log");
    assert!(
        !minted.stdout.contains(secret) && !minted.stderr.contains(secret) && !log.contains(secret),
        "the token's secret is never printed: {minted}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&kubeconfig)
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the bootstrap kubeconfig is private");
    let accepted = cluster.kubectl(
        &kubeconfig,
        &["auth", "can-i", "create", "certificatesigningrequests"],
    );
    assert_eq!(
        accepted.stdout.trim(),
        "yes",
        "the fresh token is accepted: {accepted}"
    );

    // The stale folder's verdict must not stand in for the new kubelet's.
    cluster
        .root(4, "rm -f /var/log/kbundle-lab/kubelet-real.verdict")
        .expect_success();
    let mut scp = cluster.lab.command("scp");
    scp.args(cluster.lab.ssh_options())
        .arg("-r")
        .arg(&folder)
        .arg(format!(
            "{}@{}:bundle/",
            kbundle_tests::lab::SUDO_USER,
            cluster.lab.node_address(4)
        ));
    let copied = kbundle_tests::programs::run(scp, Duration::from_secs(30));
    assert!(copied.success(), "{copied}");
    let joined = cluster.lab.ssh(
        4,
        kbundle_tests::lab::SUDO_USER,
        &format!(
            "cd bundle && sudo sh join-node4/install.sh node4 {}",
            cluster.lab.node_address(4)
        ),
    );
    assert!(joined.success(), "{joined}");
}

/// The addons phase said it left out the bundle's expired token, and how to get a fresh one.
fn assert_the_expired_token_was_left_out(run: &Run) {
    assert!(
        run.stderr.lines().any(
            |line| line.contains("addons/20-bootstrap.yaml: bootstrap token ")
                && line.contains("not applied (`kbundle join-token` mints a fresh one")
        ),
        "{run}"
    );
}

// ---- Day two: rolling restarts and removing a control-plane node (issue #15) ----

/// Three CAs (cluster, front proxy, etcd) made with openssl in the scratch dir, and the
/// `spec.certificates` lines that bring them: every bundle of the test is then one cluster (the
/// cluster id is the CA's hash) whatever else changes. The leaf certificates and the
/// service-account key are new in every bundle.
fn day_two_certificates(cluster: &ClusterLab) -> String {
    let dir = cluster.lab.scratch_dir().join("cas");
    std::fs::create_dir_all(&dir).expect("mkdir cas");
    let mut lines = String::from("  certificates:\n    existingCAs:\n");
    for (field, name) in [
        ("cluster", "kubernetes"),
        ("frontProxy", "front-proxy-ca"),
        ("etcd", "etcd-ca"),
    ] {
        let (cert, key) = (
            dir.join(format!("{field}.crt")),
            dir.join(format!("{field}.key")),
        );
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "3650", "-subj", &format!("/CN={name}")])
            .args(["-addext", "basicConstraints=critical,CA:TRUE"])
            .args([
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl runs");
        assert!(made.status.success(), "openssl: {made:?}");
        lines.push_str(&format!(
            "      {field}: {{certFile: {}, keyFile: {}}}\n",
            cert.display(),
            key.display()
        ));
    }
    lines
}

/// `kbundle generate` of `yaml` as `name.zip`, keeping the pod ranges of `previous`.
fn generate_after(cluster: &ClusterLab, yaml: &str, name: &str, previous: &Path) -> PathBuf {
    cluster.generate_with(yaml, name, &["--previous", &previous.display().to_string()])
}

/// An HA cluster (three control-plane nodes behind haproxy, one worker) brought up with
/// [`day_two_certificates`]; returns the cluster, its cluster.yaml and bundle.
fn day_two_cluster(name: &str) -> (ClusterLab, String, PathBuf) {
    let mut cluster = ClusterLab::new(ClusterShape::new(name, 3, 1), 4, &kbundle());
    cluster.start_load_balancer();
    let yaml = cluster.shape.cluster_yaml(&cluster.lab) + &day_two_certificates(&cluster);
    let zip = cluster.generate(&yaml, &format!("{name}-1"));
    let started = Instant::now();
    let run = cluster.apply(&zip, &["--wait-timeout", "240"]);
    let logs: String = cluster
        .shape
        .nodes()
        .map(|i| node_logs(&cluster.lab, i))
        .collect();
    assert!(run.success(), "{run}\n{logs}");
    eprintln!("first apply: {:.1} s", started.elapsed().as_secs_f64());
    cluster.wait_ready(&admin_conf(&cluster, &zip), Duration::from_secs(120));
    (cluster, yaml, zip)
}

/// A request of [`polling_the_api`] that failed: when (unix seconds), and what kubectl said.
type FailedRequest = (f64, String);

/// Reads the `default` Namespace through the control-plane endpoint every 200 ms (the real kubectl, a new
/// connection each time, as clients come and go) while `during` runs; returns what `during`
/// returned, the number of requests and every failed one.
fn polling_the_api<T>(
    cluster: &ClusterLab,
    admin: &Path,
    during: impl FnOnce() -> T,
) -> (T, usize, Vec<FailedRequest>) {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let poller = scope.spawn(|| {
            let (mut asked, mut failed) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let (at, when) = (Instant::now(), unix_now());
                let answer =
                    cluster.kubectl(admin, &["get", "--raw", "/api/v1/namespaces/default"]);
                asked += 1;
                if !answer.success() || !answer.stdout.contains("\"name\":\"default\"") {
                    failed.push((when, answer.to_string().replace('\n', " ")));
                }
                std::thread::sleep(Duration::from_millis(200).saturating_sub(at.elapsed()));
            }
            (asked, failed)
        });
        let result = during();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let (asked, failed) = poller.join().expect("the poller ends");
        (result, asked, failed)
    })
}

/// When each static pod of `pods` on node `index` was restarted after `since` (unix seconds):
/// the span from the lab kubelet's first "manifest changed" to its last "started", if any.
fn restart_span(
    cluster: &ClusterLab,
    index: usize,
    pods: &[&str],
    since: f64,
) -> Option<(f64, f64)> {
    let log = cluster
        .lab
        .read_node_file(index, "/var/log/kbundle-lab/kubelet.log")
        .unwrap_or_default();
    let (mut first, mut last) = (None, None::<f64>);
    for line in log.lines() {
        let Some((time, message)) = line.split_once(' ') else {
            continue;
        };
        let Ok(time) = time.parse::<f64>() else {
            continue;
        };
        if time < since
            || !pods
                .iter()
                .any(|pod| message.starts_with(&format!("{pod}: ")))
        {
            continue;
        }
        if message.contains("manifest changed; restarting") && first.is_none() {
            first = Some(time);
        }
        if first.is_some() && message.contains(": started (pid") {
            last = Some(time);
        }
    }
    Some((first?, last?))
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The etcd members' names, asked on node `index`.
fn etcd_member_names(cluster: &ClusterLab, index: usize) -> Vec<String> {
    let members = cluster.root(
        index,
        "curl -fsS --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt \
         --key /etc/kubernetes/pki/etcd/healthcheck-client.key -X POST https://127.0.0.1:2379/v3/cluster/member/list",
    );
    let members: serde_json::Value = serde_json::from_str(members.expect_success()).expect("json");
    let mut names: Vec<String> = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_change_of_every_control_plane_pod_rolls_one_node_at_a_time_and_the_api_keeps_answering() {
    let (cluster, yaml, first) = day_two_cluster("rolling");
    let admin = admin_conf(&cluster, &first);
    // Another image repository changes the manifest of every control-plane static pod (the lab
    // kubelet runs a pod by its image's name, wherever it comes from).
    let changed = yaml.replace(
        "  nodes:\n",
        "  registry: {imageRepository: registry.example.test/k8s}\n  nodes:\n",
    );
    let second = generate_after(&cluster, &changed, "rolling-2", &first);
    let before = running_processes(&cluster);
    let since = unix_now();
    let started = Instant::now();
    let (run, asked, failed) = polling_the_api(&cluster, &admin, || {
        cluster.apply(&second, &["--wait-timeout", "240"])
    });
    let seconds = started.elapsed().as_secs_f64();
    let logs: String = cluster
        .shape
        .nodes()
        .map(|i| node_logs(&cluster.lab, i))
        .collect();
    assert!(run.success(), "{run}\n{logs}");
    eprintln!(
        "rolling apply: {seconds:.1} s, {asked} requests, {} failed",
        failed.len()
    );
    assert!(asked > 20, "the poller asked only {asked} times");
    // Every control-plane process is new, and the restarts of one node ended before the next
    // node's began: for the pods install places, and for kube-controller-manager, placed later.
    let after = running_processes(&cluster);
    for pod in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        for index in 1..=3 {
            let key = format!("node{index}:pods/{pod}.pid");
            let pid = |list: &[(String, Option<u32>)]| {
                list.iter().find(|(k, _)| *k == key).and_then(|(_, p)| *p)
            };
            assert!(
                pid(&before).is_some() && pid(&before) != pid(&after),
                "{key} was not restarted: {before:?} -> {after:?}"
            );
        }
    }
    for pods in [
        &["etcd", "kube-apiserver", "kube-scheduler"][..],
        &["kube-controller-manager"][..],
    ] {
        let spans: Vec<(f64, f64)> = (1..=3)
            .map(|index| {
                restart_span(&cluster, index, pods, since)
                    .unwrap_or_else(|| panic!("node{index} restarted none of {pods:?}\n{logs}"))
            })
            .collect();
        for pair in spans.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "{pods:?} restarts overlap: {spans:?}"
            );
        }
        eprintln!(
            "{pods:?} restarts (s after the apply began): {:?}",
            spans
                .iter()
                .map(|(a, b)| (format!("{:.1}", a - since), format!("{:.1}", b - since)))
                .collect::<Vec<_>>()
        );
    }
    assert_no_request_failed(&cluster, since, asked, &failed, &run);
    // The install of each control-plane node waited for it.
    for node in ["node1", "node2", "node3"] {
        assert!(
            run.stderr
                .lines()
                .any(|line| line.contains(&format!("{node}: install ok"))
                    && line.contains("healthy again after")),
            "{node}'s install was not gated:\n{run}"
        );
    }
    // A no-op re-apply stays fast: every node is up to date, nothing rolls.
    let started = Instant::now();
    let again = cluster.apply(&second, &["--wait-timeout", "240"]);
    assert!(again.success(), "{again}");
    assert!(!again.stderr.contains("healthy again"), "{again}");
    eprintln!("no-op re-apply: {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn a_control_plane_node_gone_from_cluster_yaml_is_removed_only_with_prune() {
    let (cluster, yaml, first) = day_two_cluster("prune");
    let admin = admin_conf(&cluster, &first);
    assert_eq!(etcd_member_names(&cluster, 1), ["node1", "node2", "node3"]);
    let without_node3: String = yaml
        .lines()
        .filter(|line| !line.contains("name: node3,"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(without_node3, yaml);
    let second = generate_after(&cluster, &without_node3, "prune-2", &first);

    // Without --prune: the run succeeds, says what is left over and how to remove it, and
    // removes nothing.
    let run = cluster.apply(&second, &["--wait-timeout", "240"]);
    assert!(run.success(), "{run}");
    assert!(
        run.stderr.contains(
            "warning: the cluster has what this bundle does not: Node node3, etcd member node3"
        ) && run.stderr.contains("--prune"),
        "{run}"
    );
    assert_eq!(etcd_member_names(&cluster, 1), ["node1", "node2", "node3"]);
    cluster
        .kubectl(&admin, &["get", "node", "node3"])
        .expect_success();

    // With --prune, node3 out of the load balancer first (as the docs say): drained, its
    // member removed, its Node deleted, the API answering throughout.
    cluster.disable_backend(3);
    let started = Instant::now();
    let (run, asked, failed) = polling_the_api(&cluster, &admin, || {
        cluster.apply(&second, &["--wait-timeout", "240", "--prune"])
    });
    eprintln!(
        "prune apply: {:.1} s, {asked} requests, {} failed",
        started.elapsed().as_secs_f64(),
        failed.len()
    );
    assert!(run.success(), "{run}");
    assert!(
        failed.is_empty(),
        "{} of {asked} requests failed while node3 was removed:\n{failed:?}\n{run}",
        failed.len(),
    );
    assert!(
        run.stderr.contains("Node node3 drained")
            && run.stderr.contains("etcd member node3 removed")
            && run.stderr.contains("Node node3 deleted"),
        "{run}"
    );
    assert_eq!(etcd_member_names(&cluster, 1), ["node1", "node2"]);
    assert_eq!(etcd_member_names(&cluster, 2), ["node1", "node2"]);
    let gone = cluster.kubectl(&admin, &["get", "node", "node3"]);
    assert!(
        !gone.success() && gone.to_string().contains("NotFound"),
        "{gone}"
    );
    // The cluster of two members works: the two API servers are ready, writes go through.
    for index in 1..=2 {
        let ready = cluster.root(
            index,
            &format!(
                "curl -fsS --cacert /etc/kubernetes/pki/ca.crt https://{}:6443/readyz",
                cluster.lab.node_address(index)
            ),
        );
        assert_eq!(ready.stdout.trim(), "ok", "node{index}: {ready}");
    }
    cluster
        .kubectl(&admin, &["create", "namespace", "after-prune"])
        .expect_success();
    // Once done, a second --prune finds nothing left to remove.
    let again = cluster.apply(&second, &["--wait-timeout", "240", "--prune"]);
    assert!(again.success(), "{again}");
    assert!(
        again
            .stderr
            .contains("every Node kbundle planned and every etcd member is in this bundle"),
        "{again}"
    );
}

/// The API kept answering while `run` rolled the control plane: not one request through the
/// load balancer failed. The API servers list every etcd member (their own first), so a member's
/// restart does not make them unready, and a restarting API server reports itself not ready for
/// five seconds while it still serves (`--shutdown-delay-duration`), so haproxy's check (every
/// second, two failures) takes it out first.
fn assert_no_request_failed(
    cluster: &ClusterLab,
    since: f64,
    asked: usize,
    failed: &[FailedRequest],
    run: &Run,
) {
    let etcd_spans: Vec<(f64, f64)> = (1..=3)
        .filter_map(|index| restart_span(cluster, index, &["etcd"], since))
        .collect();
    let described: Vec<String> = failed
        .iter()
        .map(|(at, text)| format!("at {:.1} s: {text}", at - since))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {asked} requests through the endpoint failed (etcd restarts at {etcd_spans:?}, \
         {since:.1} being the start):\n{}\n{run}",
        failed.len(),
        described.join("\n")
    );
}

/// The certificate a TLS server on node `index`, port `port`, presents (PEM), as openssl reads
/// it from the lab namespace.
fn served_certificate(cluster: &ClusterLab, index: usize, port: u16) -> String {
    let mut command = cluster.lab.command("sh");
    command.args([
        "-c",
        &format!(
            "openssl s_client -connect {}:{port} </dev/null 2>/dev/null | openssl x509",
            cluster.lab.node_address(index)
        ),
    ]);
    let served = kbundle_tests::programs::run(command, Duration::from_secs(30));
    served.stdout.trim().to_owned()
}

#[test]
fn renewed_certificates_roll_out_on_an_ha_cluster_while_the_api_keeps_answering() {
    let (cluster, _yaml, first) = day_two_cluster("renew");
    let admin = admin_conf(&cluster, &first);
    let token = service_account_token(&cluster, &admin);
    let renewed = cluster.lab.scratch_dir().join("renewed.zip");
    let made = cluster.kbundle_run(&[
        "certs",
        "renew",
        &first.display().to_string(),
        "-o",
        &renewed.display().to_string(),
    ]);
    assert!(made.success(), "{made}");
    let before = running_processes(&cluster);
    let since = unix_now();
    let (run, asked, failed) = polling_the_api(&cluster, &admin, || {
        cluster.apply(&renewed, &["--wait-timeout", "240"])
    });
    let logs: String = cluster
        .shape
        .nodes()
        .map(|i| node_logs(&cluster.lab, i))
        .collect();
    assert!(run.success(), "{run}\n{logs}");
    assert!(asked > 20, "the poller asked only {asked} times");
    assert_no_request_failed(&cluster, since, asked, &failed, &run);
    // Every component runs on its new certificate: each static pod and kubelet is a new
    // process, and etcd and the API servers serve the renewed bundle's certificates.
    let after = running_processes(&cluster);
    for (key, pid) in &before {
        let now = after.iter().find(|(k, _)| k == key).and_then(|(_, p)| *p);
        assert!(
            pid.is_some() && now != *pid,
            "{key} was not restarted: {pid:?} -> {now:?}"
        );
    }
    for index in 1..=3 {
        let node = cluster.lab.node_name(index);
        for (port, file) in [(6443, "apiserver.crt"), (2379, "etcd/server.crt")] {
            let bundle = std::fs::read_to_string(cluster.extract(
                &renewed,
                &format!("nodes/{node}/rootfs/etc/kubernetes/pki/{file}"),
            ))
            .expect("the renewed certificate");
            assert_eq!(
                served_certificate(&cluster, index, port),
                bundle.trim(),
                "{node}:{port} does not serve the renewed {file}"
            );
        }
    }
    // What the nodes have is the renewed bundle's, as `kbundle certs --installed` reads it.
    let known_hosts = cluster.lab.known_hosts().display().to_string();
    let installed = cluster.kbundle_run(&[
        "certs",
        &renewed.display().to_string(),
        "--installed",
        "--ssh-config",
        "/dev/null",
        "--known-hosts",
        &known_hosts,
        "--connect-timeout",
        "5",
    ]);
    assert!(installed.success(), "{installed}");
    assert_eq!(
        installed.stderr.matches(" 0 not as in the bundle").count(),
        4,
        "{installed}"
    );
    // Same CAs, same service-account keys: a token issued before still works.
    assert_token_accepted(&cluster, &renewed, &admin, &token);
}
