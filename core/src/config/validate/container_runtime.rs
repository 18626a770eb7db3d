//! `spec.containerRuntime`: the CRI socket and the cgroup driver.

use super::*;

const DEFAULT_CRI_SOCKET: &str = "/run/containerd/containerd.sock";

impl Checker {
    pub(super) fn container_runtime(&mut self, raw: &RawClusterConfig) -> Option<ContainerRuntime> {
        let runtime = &raw.spec.container_runtime;
        let socket = runtime
            .socket
            .clone()
            .unwrap_or_else(|| DEFAULT_CRI_SOCKET.into());
        let socket = socket.strip_prefix("unix://").unwrap_or(&socket).to_owned();
        let mut ok = true;
        if !socket.starts_with('/') {
            self.push(
                Diagnostic::error(
                    "spec.containerRuntime.socket",
                    "is not an absolute socket path",
                )
                .value(&socket)
                .hint(format!("use e.g. `{DEFAULT_CRI_SOCKET}`")),
            );
            ok = false;
        }
        let cgroup_driver = match runtime.cgroup_driver.as_deref() {
            None | Some("systemd") => CgroupDriver::Systemd,
            Some("cgroupfs") => {
                self.push(
                    Diagnostic::warning(
                        "spec.containerRuntime.cgroupDriver",
                        "is not recommended on systemd hosts",
                    )
                    .value("cgroupfs")
                    .hint("use `systemd`, kubeadm's default, unless the nodes do not run systemd"),
                );
                CgroupDriver::Cgroupfs
            }
            Some(other) => {
                self.push(
                    Diagnostic::error(
                        "spec.containerRuntime.cgroupDriver",
                        "is not a cgroup driver",
                    )
                    .value(other)
                    .hint("use `systemd` or `cgroupfs`"),
                );
                ok = false;
                CgroupDriver::Systemd
            }
        };
        ok.then_some(ContainerRuntime {
            socket,
            cgroup_driver,
        })
    }
}
