//! The plan as a readable table: a summary, one row per node, then `NO_PROXY`.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::NetworkPlan;

/// The plan as text: a summary, one row per node, then NO_PROXY.
pub(super) fn render(plan: &NetworkPlan) -> String {
    let join = |items: &[String]| items.join(", ");
    let families: Vec<String> = plan
        .ip_families
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    let pods: Vec<String> = plan
        .pod_subnets
        .iter()
        .zip(&plan.node_cidr_mask_sizes)
        .map(|(subnet, mask)| format!("{subnet} (/{mask} per node)"))
        .collect();
    let services: Vec<String> = plan
        .service_subnets
        .iter()
        .map(ToString::to_string)
        .collect();
    let apiserver_ips: Vec<String> = plan
        .apiserver_service_ips
        .iter()
        .map(ToString::to_string)
        .collect();

    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "{label:<18}{value}");
    };
    line(
        "Cluster",
        format!(
            "{} (Kubernetes {})",
            plan.cluster_name, plan.kubernetes_version
        ),
    );
    line("IP families", join(&families));
    line("API endpoint", plan.control_plane_endpoint.clone());
    line("API service IP", join(&apiserver_ips));
    line(
        "DNS service IP",
        format!("{} ({})", plan.dns_service_ip, plan.dns_domain),
    );
    line("Pod network", join(&pods));
    line("Service network", join(&services));
    line(
        "Capacity",
        format!(
            "{} nodes, {} pods per node ({} pod addresses per node range)",
            plan.max_nodes, plan.max_pods_per_node, plan.pod_addresses_per_node
        ),
    );

    let headers = ["NODE", "ADDRESS", "ROLES", "POD RANGE", "GATEWAY"];
    let rows: Vec<[String; 5]> = plan
        .nodes
        .iter()
        .map(|node| {
            [
                node.name.clone(),
                list(&node.addresses),
                node.roles.join(","),
                node.pod_cidrs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                list(&node.gateways),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    out.push('\n');
    let mut row_line = |cells: &[&str]| {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(widths) {
            let _ = write!(text, "{cell:<width$}  ");
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    row_line(&headers);
    for row in &rows {
        row_line(&row.each_ref().map(String::as_str));
    }
    let _ = writeln!(out, "\nNO_PROXY={}", plan.no_proxy_value());
    out
}

fn list(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
