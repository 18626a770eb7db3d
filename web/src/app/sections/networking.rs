//! The form's section: Networking: pod and service ranges, node range size, CNI, DNS, MTU, kube-proxy and the container runtime.

use std::rc::Rc;

use yew::prelude::*;

use super::SectionProps;
use crate::app::fields::{Fields, owned};

/// The section.
#[component]
pub fn NetworkingSection(props: &SectionProps) -> Html {
    let form = &*props.form;
    let fields = Fields::new(&props.checked, &props.on_edit);
    let n = &form.networking;
    let cnis = [
        ("", "flannel (default)"),
        ("flannel", "flannel"),
        ("none", "none: I install my own"),
    ];
    let proxy_modes = [
        ("", "iptables (default)"),
        ("iptables", "iptables"),
        ("nftables", "nftables"),
        ("ipvs", "ipvs"),
    ];
    html! {
        <fieldset class="card" id="networking">
            <legend>{"Networking"}</legend>
            <div class="grid">
                { fields.text("Pod range", "spec.networking.podSubnet", &n.pod_subnet,
                    "default 10.244.0.0/16; v4,v6 for dual-stack", Rc::new(|f, v| f.networking.pod_subnet = v)) }
                { fields.text("Service range", "spec.networking.serviceSubnet", &n.service_subnet,
                    "default 10.96.0.0/12; same families as the pod range", Rc::new(|f, v| f.networking.service_subnet = v)) }
                { fields.text("Node range size", "spec.networking.nodeCIDRMaskSize", &n.node_cidr_mask_size,
                    "prefix of each node's pod range: 24, or 24,64 for dual-stack", Rc::new(|f, v| f.networking.node_cidr_mask_size = v)) }
                { fields.select("Pod network (CNI)", "spec.networking.cni", &n.cni, &owned(&cnis),
                    Rc::new(|f, v| f.networking.cni = v)) }
            </div>
            <details class="advanced">
                <summary>{"Advanced networking"}</summary>
                <div class="grid">
                    { fields.text("DNS domain", "spec.networking.dnsDomain", &n.dns_domain, "default cluster.local",
                        Rc::new(|f, v| f.networking.dns_domain = v)) }
                    { fields.text("DNS service IP", "spec.networking.dnsServiceIP", &n.dns_service_ip,
                        "default: the tenth address of the service range", Rc::new(|f, v| f.networking.dns_service_ip = v)) }
                    { fields.text("MTU", "spec.networking.mtu", &n.mtu, "empty: flannel detects it",
                        Rc::new(|f, v| f.networking.mtu = v)) }
                    { fields.text("Max pods per node", "spec.networking.maxPodsPerNode", &n.max_pods_per_node,
                        "default 110", Rc::new(|f, v| f.networking.max_pods_per_node = v)) }
                    { fields.select("kube-proxy mode", "spec.networking.kubeProxyMode", &n.kube_proxy_mode, &owned(&proxy_modes),
                        Rc::new(|f, v| f.networking.kube_proxy_mode = v)) }
                    { fields.text("CRI socket", "spec.containerRuntime.socket", &form.runtime.socket,
                        "default unix:///run/containerd/containerd.sock", Rc::new(|f, v| f.runtime.socket = v)) }
                    { fields.select("cgroup driver", "spec.containerRuntime.cgroupDriver", &form.runtime.cgroup_driver,
                        &owned(&[("", "systemd (default)"), ("systemd", "systemd"), ("cgroupfs", "cgroupfs")]),
                        Rc::new(|f, v| f.runtime.cgroup_driver = v)) }
                </div>
            </details>
        </fieldset>
    }
}
