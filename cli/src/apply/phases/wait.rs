//! Wait: etcd has quorum (every member healthy, asked through the first member with the
//! healthcheck client certificate), then the API server answers `/readyz` through the
//! control-plane endpoint, as every client will reach it.

use super::{retry, root};
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

const PKI: &str = "/etc/kubernetes/pki";

pub(crate) struct WaitEtcd;

impl Phase for WaitEtcd {
    fn name(&self) -> &'static str {
        "wait-etcd"
    }

    fn title(&self) -> &'static str {
        "Wait for etcd quorum"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        context
            .nodes
            .iter()
            .position(|node| node.has_role("etcd"))
            .map(|index| vec![vec![index]])
            .unwrap_or_default()
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let members: Vec<String> = context
            .nodes
            .iter()
            .filter(|n| n.has_role("etcd"))
            .filter_map(|n| n.addresses.first())
            .map(|address| match address.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V6(v6)) => format!("https://[{v6}]:2379"),
                _ => format!("https://{address}:2379"),
            })
            .collect();
        let checks: Vec<String> = members
            .iter()
            .map(|url| {
                format!(
                    "curl -fsS --max-time 3 --cacert {PKI}/etcd/ca.crt --cert {PKI}/etcd/healthcheck-client.crt --key {PKI}/etcd/healthcheck-client.key {}/health | grep -q '\"health\":\"true\"'",
                    quote(url)
                )
            })
            .collect();
        let all = format!("{{ {}; }}", checks.join(" && "));
        root(
            context,
            node,
            &retry(&all, context.options.wait_timeout.as_secs()),
        )
        .map_err(|_| {
            format!(
                "etcd has no quorum after {:?}: not every member of {} is healthy",
                context.options.wait_timeout,
                members.join(", ")
            )
        })?;
        Ok(format!("{} members healthy", members.len()))
    }
}

pub(crate) struct WaitApiServer;

impl Phase for WaitApiServer {
    fn name(&self) -> &'static str {
        "wait-apiserver"
    }

    fn title(&self) -> &'static str {
        "Wait for the API server through the endpoint"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        super::first_control_plane(context)
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let endpoint = &context.bundle.manifest.control_plane_endpoint;
        let check = format!(
            "curl -fsS --max-time 3 --cacert {PKI}/ca.crt {}/readyz | grep -q ok",
            quote(endpoint)
        );
        root(
            context,
            node,
            &retry(&check, context.options.wait_timeout.as_secs()),
        )
        .map_err(|_| {
            format!(
                "{endpoint}/readyz did not answer ok within {:?}",
                context.options.wait_timeout
            )
        })?;
        Ok(format!("{endpoint} is ready"))
    }
}
