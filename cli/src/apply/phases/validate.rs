//! Validate (the old validate-cluster idea): every node registered and Ready, with exactly its
//! planned pod range. Nodes register and turn Ready on their own schedule after the kubelet
//! starts, so the check is repeated until it holds or the run's wait timeout passes; the
//! problems of the last look are the failure.

use super::{first_control_plane, root};
use crate::apply::{Context, NodeTarget, Outcome, Phase};

pub(crate) struct Validate;

impl Phase for Validate {
    fn name(&self) -> &'static str {
        "validate"
    }

    fn title(&self) -> &'static str {
        "Check nodes Ready with their planned pod ranges"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        first_control_plane(context)
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let plan: serde_json::Value = context
            .bundle
            .entry("plan.json")
            .and_then(|entry| serde_json::from_slice(&entry.contents).ok())
            .ok_or("plan.json is unreadable")?;
        let deadline = std::time::Instant::now() + context.options.wait_timeout;
        loop {
            let problems = match root(context, node, QUERY) {
                Ok(output) => problems(&plan, &output.stdout),
                Err(reason) => vec![format!("the nodes could not be listed: {reason}")],
            };
            if problems.is_empty() {
                return Ok("every node Ready with its planned pod range".into());
            }
            if std::time::Instant::now() >= deadline {
                return Err(format!(
                    "after {:?}: {}",
                    context.options.wait_timeout,
                    problems.join("; ")
                ));
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

/// Each node's name, pod ranges and Ready status, a line each.
const QUERY: &str = r#"kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDRs} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'"#;

/// What differs between the plan and the nodes as `listing` ([`QUERY`]'s output) shows them.
fn problems(plan: &serde_json::Value, listing: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for planned in plan["nodes"].as_array().into_iter().flatten() {
        let name = planned["name"].as_str().unwrap_or_default();
        let cidrs: Vec<&str> = planned["pod_cidrs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .collect();
        match listing
            .lines()
            .find(|line| line.split(' ').next() == Some(name))
        {
            None => problems.push(format!("{name} is not registered")),
            Some(line) => {
                if !cidrs.iter().all(|cidr| line.contains(cidr)) {
                    problems.push(format!(
                        "{name} does not have its planned pod range {}",
                        cidrs.join(",")
                    ));
                }
                if !line.ends_with("True") {
                    problems.push(format!("{name} is not Ready"));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::problems;

    #[test]
    fn names_every_node_that_is_missing_not_ready_or_on_another_range() {
        let plan = serde_json::json!({"nodes": [
            {"name": "cp1", "pod_cidrs": ["10.244.0.0/24"]},
            {"name": "w1", "pod_cidrs": ["10.244.1.0/24"]},
            {"name": "w2", "pod_cidrs": ["10.244.2.0/24"]},
            {"name": "w3", "pod_cidrs": ["10.244.3.0/24"]},
        ]});
        let listing = "cp1 [\"10.244.0.0/24\"] True\nw1 [\"10.244.1.0/24\"] False\nw2 [\"10.244.9.0/24\"] True\n";
        assert_eq!(
            problems(&plan, listing),
            [
                "w1 is not Ready",
                "w2 does not have its planned pod range 10.244.2.0/24",
                "w3 is not registered"
            ]
        );
        let all_good = "cp1 [\"10.244.0.0/24\"] True\nw1 [\"10.244.1.0/24\"] True\nw2 [\"10.244.2.0/24\"] True\nw3 [\"10.244.3.0/24\"] True\n";
        assert!(problems(&plan, all_good).is_empty());
    }
}
