//! Reset: undo what the bundle installed, keeping a backup, and leave the node ready for a fresh
//! apply. Stops the kubelet and its pods (through crictl when present) and containerd, moves every
//! file the bundle placed into a dated backup under /var/lib/kbundle/backup, removes the CNI
//! interfaces and the rules kube-proxy and flannel made, the journal and the staging folders
//! (apply's upload, and the one `kbundle export` stages in). Data directories (etcd's, the
//! kubelet's) go only with `--wipe-data`.

use super::lock::{JOURNAL, STATE_DIR};
use super::root;
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

pub(crate) struct Reset;

impl Phase for Reset {
    fn name(&self) -> &'static str {
        "reset"
    }

    fn title(&self) -> &'static str {
        "Remove what the bundle installed (backed up)"
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let files: Vec<String> = context
            .bundle
            .node_files(&node.name)
            .iter()
            .map(|file| quote(file.path.trim_start_matches('/')))
            .collect();
        let stamp = crate::clock::unix_now();
        let backup = format!("{STATE_DIR}/backup/{stamp}");
        let wipe = if context.options.wipe_data {
            "rm -rf /var/lib/etcd /var/lib/kubelet/pods; echo wiped=etcd,kubelet-pods; "
        } else {
            ""
        };
        let socket = "unix:///run/containerd/containerd.sock";
        let command = format!(
            "set -u; staging=\"$(pwd)\"/{staging}; \
             systemctl stop kubelet 2>/dev/null || true; \
             if command -v crictl >/dev/null; then crictl --runtime-endpoint {socket} rmp -af >/dev/null 2>&1 || true; fi; \
             systemctl stop containerd 2>/dev/null || true; \
             mkdir -p {backup}; cd / && moved=0; \
             for f in {files}; do if [ -e \"$f\" ]; then mkdir -p \"{backup}/$(dirname \"$f\")\" && mv \"$f\" \"{backup}/$f\" && moved=$((moved + 1)); fi; done; \
             echo moved=$moved; \
             for link in cni0 flannel.1 flannel-v6.1 kube-ipvs0; do ip link delete \"$link\" 2>/dev/null && echo removed-link=$link; done; \
             rm -f /etc/cni/net.d/10-flannel.conflist; \
             for save in iptables-save ip6tables-save; do if command -v $save >/dev/null; then restore=$(echo $save | sed 's/-save/-restore/'); $save | grep -v -e KUBE- -e FLANNEL | $restore || true; fi; done; \
             if command -v ipvsadm >/dev/null; then ipvsadm --clear || true; fi; \
             {wipe}rm -f {JOURNAL}; rm -rf \"$staging\"; \
             if [ -d {exported} ]; then rm -rf {exported} && echo removed={exported}; fi; \
             echo backup={backup}",
            staging = quote(&context.staging),
            exported = quote(&kbundle_core::export::staging_dir(
                &context.bundle.manifest.cluster_name
            )),
            files = files.join(" "),
        );
        let output = root(context, node, &command)?;
        let facts: Vec<&str> = output
            .stdout
            .lines()
            .filter(|line| line.contains('='))
            .collect();
        Ok(facts.join(", "))
    }
}
