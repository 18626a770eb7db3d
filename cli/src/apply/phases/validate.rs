//! Validate (the old validate-cluster idea): every node registered and Ready, with exactly its
//! planned pod range.

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
        let query = r#"kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDRs} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'"#;
        let output = root(context, node, query)?;
        let plan: serde_json::Value = context
            .bundle
            .entry("plan.json")
            .and_then(|entry| serde_json::from_slice(&entry.contents).ok())
            .ok_or("plan.json is unreadable")?;
        let mut problems = Vec::new();
        for planned in plan["nodes"].as_array().into_iter().flatten() {
            let name = planned["name"].as_str().unwrap_or_default();
            let cidrs: Vec<&str> = planned["pod_cidrs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str())
                .collect();
            match output
                .stdout
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
        if problems.is_empty() {
            Ok("every node Ready with its planned pod range".into())
        } else {
            Err(problems.join("; "))
        }
    }
}
