//! No input is slow (issue #17): cluster.yaml documents of a few hundred KB, whatever they
//! hold (thousands of nodes, duplicates everywhere, one huge list, deep nesting, an alias bomb),
//! are answered, and bundle texts of tens of thousands of lines are diffed. The tests hold no
//! timer (CI machines vary); they pin the work instead: every document here must be answered
//! (a quadratic step would make this suite crawl, which the fuzz targets' per-input time limit
//! turns into a failure) and the number of findings stays linear in the input.

use kbundle_core::bundle::diff::unified;
use kbundle_core::config::ClusterConfig;
use kbundle_core::plan::NetworkPlan;

const HEADER: &str = "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: big\nspec:\n  kubernetesVersion: \"1.37\"\n";

/// `count` nodes written by `node(i)`, under a pod network big enough for all of them.
fn cluster(count: usize, node: impl Fn(usize) -> String) -> String {
    let mut yaml = String::from(HEADER);
    yaml +=
        "  networking:\n    podSubnet: 10.0.0.0/8\n    serviceSubnet: 172.16.0.0/16\n  nodes:\n";
    for index in 0..count {
        yaml += &node(index);
    }
    yaml
}

/// A node address in 198.18.0.0/15 (RFC 2544, set aside for benchmarks).
fn address(index: usize) -> String {
    format!("198.18.{}.{}", index / 250, index % 250 + 1)
}

fn findings(yaml: &str) -> usize {
    match ClusterConfig::from_yaml(yaml) {
        Ok(validated) => validated.warnings.len(),
        Err(diagnostics) => diagnostics.0.len(),
    }
}

#[test]
fn three_thousand_nodes_validate_plan_and_read_again() {
    let yaml = cluster(3_000, |index| {
        let roles = if index < 3 {
            "[control-plane, etcd]"
        } else {
            "[worker]"
        };
        format!(
            "    - name: node{index}\n      address: {}\n      roles: {roles}\n      labels: {{zone: z{}}}\n",
            address(index),
            index % 3
        )
    });
    assert!(yaml.len() > 200_000, "{} bytes", yaml.len());
    let yaml = yaml.replace(
        "spec:\n",
        "spec:\n  controlPlaneEndpoint: 198.18.100.1:6443\n  highAvailability: {mode: kube-vip}\n",
    );
    let validated = ClusterConfig::from_yaml(&yaml).expect("valid");
    let plan = NetworkPlan::new(&validated.config);
    assert_eq!(plan.nodes.len(), 3_000);
    let raw = kbundle_core::config::RawClusterConfig::from_yaml(&yaml).expect("parses");
    let again = ClusterConfig::from_yaml(&raw.to_yaml()).expect("valid again");
    assert_eq!(NetworkPlan::new(&again.config), plan);
}

#[test]
fn thousands_of_duplicates_give_findings_linear_in_the_nodes() {
    for (what, node) in [
        (
            "one name, one address",
            Box::new(|_: usize| {
                "    - name: same\n      address: 198.18.0.1\n      roles: [control-plane]\n"
                    .to_owned()
            }) as Box<dyn Fn(usize) -> String>,
        ),
        (
            "bad everything",
            Box::new(|index: usize| {
                format!(
                    "    - name: \"Not A Name {index}\"\n      address: 10.0.0.{index}\n      roles: [boss]\n      taints: [\"x\"]\n      labels: {{\"-\": \"-\"}}\n"
                )
            }),
        ),
    ] {
        let count = 3_000;
        let yaml = cluster(count, node);
        let found = findings(&yaml);
        assert!(
            (1..=8 * count).contains(&found),
            "{what}: {found} findings for {count} nodes"
        );
    }
}

#[test]
fn one_huge_list_anywhere_is_answered() {
    let many = |prefix: &str, count: usize| -> String {
        (0..count)
            .map(|index| format!("\"{prefix}{index}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let node =
        "    - name: cp1\n      address: 192.0.2.11\n      roles: [control-plane, etcd, worker]\n";
    let lists = [
        format!(
            "{HEADER}  nodes:\n{node}      labels: {{{}}}\n",
            (0..20_000)
                .map(|index| format!("k{index}: v"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "{HEADER}  nodes:\n{node}      taints: [{}]\n",
            many("key", 20_000)
        ),
        format!(
            "{HEADER}  nodes:\n{node}  certificates:\n    extraSANs: [{}]\n",
            many("san", 20_000)
        ),
        format!(
            "{HEADER}  nodes:\n{node}  proxy:\n    http: http://proxy.example.com:3128\n    noProxy: [{}]\n",
            many("host", 20_000)
        ),
        format!(
            "{HEADER}  nodes:\n{node}  ssh:\n    jumpHosts: [{}]\n",
            many("jump", 20_000)
        ),
        format!(
            "{HEADER}  nodes:\n{node}  registry:\n    pullSecretNamespaces: [{}]\n    mirrors:\n{}",
            many("ns", 20_000),
            (0..5_000)
                .map(|index| format!(
                    "      - {{registry: r{index}.example.com, endpoints: [\"https://m.example.com\"]}}\n"
                ))
                .collect::<String>()
        ),
        format!("{HEADER}  nodes:\n{node}metadata:\n  name: {}\n", "a".repeat(300_000)),
    ];
    for yaml in &lists {
        // Valid or not, each is answered, and with few findings: one list is one problem.
        let found = findings(yaml);
        assert!(found <= 20_001, "{found} findings");
    }
}

#[test]
fn deep_nesting_and_alias_bombs_are_refused() {
    let deep = format!(
        "spec:\n  nodes: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(ClusterConfig::from_yaml(&deep).is_err());
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let previous = format!("*a{}", level - 1);
        bomb += &format!(
            "a{level}: &a{level} [{}]\n",
            [previous.as_str(); 10].join(", ")
        );
    }
    assert!(ClusterConfig::from_yaml(&bomb).is_err());
}

#[test]
fn a_diff_of_two_long_unrelated_texts_is_answered() {
    let old: String = (0..20_000).map(|line| format!("old {line}\n")).collect();
    let new: String = (0..20_000).map(|line| format!("new {line}\n")).collect();
    let text = unified("/etc/big.yaml", &old, &new);
    assert!(text.starts_with("--- a/etc/big.yaml"), "{}", &text[..40]);
}
