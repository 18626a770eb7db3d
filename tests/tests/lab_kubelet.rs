//! The lab kubelet (`src/bin/kbundle-lab-kubelet.rs`) behaves as the kubelet does towards static
//! pods, since the cluster suites rely on it for holding kube-controller-manager, re-applies
//! and reset: on one lab node with the real node runtime, a static etcd pod (the real etcd
//! v3.7.0) starts with the kubelet; `enable --now` of a running kubelet restarts nothing; a
//! kubelet restart keeps the pod; a changed manifest restarts it with the new command line; a
//! crashed pod comes back; a removed manifest stops it; an image with no binary in the lab is
//! reported and not run; and `crictl rmp` stops every pod.

use std::path::Path;
use std::time::{Duration, Instant};

use kbundle_tests::kubernetes::{self, Binaries, shell_quote};
use kbundle_tests::lab::{Lab, SUDO_USER};

const UNIT: &str = "[Service]\nExecStart=kubelet --config=/var/lib/kubelet/config.yaml\n";
const DROP_IN: &str = "[Service]\nEnvironment=\"LAB_ARGS=--kubeconfig=/etc/kubernetes/kubelet.conf --node-labels=lab=yes\"\nExecStart=\nExecStart=kubelet --config=/var/lib/kubelet/config.yaml $LAB_ARGS\n";
const CONFIG: &str = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: /etc/kubernetes/manifests\n";

fn etcd_manifest(extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: etcd, namespace: kube-system}}\nspec:\n  hostNetwork: true\n  containers:\n  - name: etcd\n    image: registry.k8s.io/etcd:3.7.0-0\n    command:\n    - etcd\n    - --name=lab\n    - --data-dir=/var/lib/etcd-lab\n    - --listen-client-urls=http://127.0.0.1:2379\n    - --advertise-client-urls=http://127.0.0.1:2379\n    - --listen-peer-urls=http://127.0.0.1:2380\n    - --initial-advertise-peer-urls=http://127.0.0.1:2380\n    - --initial-cluster=lab=http://127.0.0.1:2380\n{extra}"
    )
}

const KUBE_VIP: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-vip, namespace: kube-system}\nspec:\n  containers:\n  - name: kube-vip\n    image: ghcr.io/kube-vip/kube-vip:v1.0.0\n    args: [manager]\n";

fn root(lab: &Lab, script: &str) -> String {
    let finished = lab.ssh(1, SUDO_USER, &format!("sudo sh -c {}", shell_quote(script)));
    assert!(finished.success(), "{script}: {finished}");
    finished.stdout
}

fn write(lab: &Lab, path: &str, contents: &str) {
    root(
        lab,
        &format!(
            "mkdir -p \"$(dirname {path})\" && printf '%s' {} > {path}.tmp && mv {path}.tmp {path}",
            shell_quote(contents)
        ),
    );
}

/// The pid in `/run/kbundle-lab/<file>` on the lab's node if that process runs.
fn pid(lab: &Lab, file: &str) -> Option<u32> {
    kubernetes::lab_kubelet_pid(lab, 1, file)
}

/// Waits until `check` gives `Some`, at most 30 s.
fn eventually<T>(what: &str, lab: &Lab, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            let state = lab.ssh(
                1,
                SUDO_USER,
                "sudo sh -c 'ls -la /run/kbundle-lab /run/kbundle-lab/pods; cat /var/log/systemctl-calls.log'",
            );
            panic!(
                "{what} within 30 s; lab kubelet log:\n{}\n{state}",
                lab.read_node_file(1, "/var/log/kbundle-lab/kubelet.log")
                    .unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn static_pods_follow_their_manifests_as_with_the_kubelet() {
    let lab = Lab::new("lab-kubelet", 1);
    let runner = Path::new(env!("CARGO_BIN_EXE_kbundle-lab-kubelet"));
    kubernetes::install_node_runtime(&lab, &Binaries::locate(), runner);
    write(&lab, "/etc/systemd/system/kubelet.service", UNIT);
    write(
        &lab,
        "/etc/systemd/system/kubelet.service.d/10-lab.conf",
        DROP_IN,
    );
    write(&lab, "/var/lib/kubelet/config.yaml", CONFIG);
    write(
        &lab,
        "/etc/kubernetes/manifests/etcd.yaml",
        &etcd_manifest(""),
    );
    write(&lab, "/etc/kubernetes/manifests/kube-vip.yaml", KUBE_VIP);

    root(&lab, "systemctl enable --now kubelet");
    let kubelet = eventually("the lab kubelet runs", &lab, || pid(&lab, "kubelet.pid"));
    let etcd = eventually("the etcd pod runs", &lab, || pid(&lab, "pods/etcd.pid"));
    eventually("etcd answers", &lab, || {
        root(
            &lab,
            "curl -fsS --max-time 2 http://127.0.0.1:2379/health || true",
        )
        .contains("\"health\":\"true\"")
        .then_some(())
    });
    let log = lab
        .read_node_file(1, "/var/log/kbundle-lab/kubelet.log")
        .unwrap_or_default();
    assert!(
        log.contains(
            "kubelet --config=/var/lib/kubelet/config.yaml --kubeconfig=/etc/kubernetes/kubelet.conf --node-labels=lab=yes"
        ),
        "the drop-in's ExecStart, its Environment expanded:\n{log}"
    );
    assert!(
        log.contains("kube-vip: no binary for image ghcr.io/kube-vip/kube-vip:v1.0.0"),
        "{log}"
    );

    // `enable --now` of a running kubelet restarts nothing.
    root(&lab, "systemctl enable --now kubelet");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pid(&lab, "kubelet.pid"), Some(kubelet));
    assert_eq!(pid(&lab, "pods/etcd.pid"), Some(etcd));

    // A kubelet restart keeps the pods, as containers outlive a kubelet restart.
    root(&lab, "systemctl restart kubelet");
    let restarted = eventually("a new lab kubelet", &lab, || {
        pid(&lab, "kubelet.pid").filter(|p| *p != kubelet)
    });
    assert_ne!(restarted, kubelet);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        pid(&lab, "pods/etcd.pid"),
        Some(etcd),
        "the pod was adopted"
    );

    // A changed manifest restarts the pod with its new command line.
    write(
        &lab,
        "/etc/kubernetes/manifests/etcd.yaml",
        &etcd_manifest("    - --snapshot-count=5000\n"),
    );
    let changed = eventually("etcd restarted", &lab, || {
        pid(&lab, "pods/etcd.pid").filter(|p| *p != etcd)
    });
    let command_line = root(&lab, &format!("tr '\\0' ' ' < /proc/{changed}/cmdline"));
    assert!(
        command_line.contains("--snapshot-count=5000"),
        "{command_line}"
    );

    // A crashed pod comes back.
    root(&lab, &format!("kill -KILL {changed}"));
    let back = eventually("etcd back after a crash", &lab, || {
        pid(&lab, "pods/etcd.pid").filter(|p| *p != changed)
    });

    // A removed manifest stops the pod.
    root(&lab, "rm /etc/kubernetes/manifests/etcd.yaml");
    eventually("etcd stopped", &lab, || {
        root(&lab, &format!("kill -0 {back} 2>/dev/null || echo gone"))
            .contains("gone")
            .then_some(())
    });

    // crictl rmp (what reset runs) stops every pod; systemctl stop stops the kubelet.
    write(
        &lab,
        "/etc/kubernetes/manifests/etcd.yaml",
        &etcd_manifest(""),
    );
    let last = eventually("etcd runs again", &lab, || pid(&lab, "pods/etcd.pid"));
    root(
        &lab,
        "systemctl stop kubelet && crictl --runtime-endpoint unix:///run/containerd/containerd.sock rmp -af",
    );
    assert_eq!(pid(&lab, "kubelet.pid"), None);
    assert!(
        root(&lab, &format!("kill -0 {last} 2>/dev/null || echo gone")).contains("gone"),
        "crictl rmp stopped etcd"
    );
}
