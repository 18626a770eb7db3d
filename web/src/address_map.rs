//! The picture of the address space: for each IP family, one row each for the pod range, the
//! nodes' pod ranges, the service range and the node addresses, drawn on one axis so that any
//! overlap shows as a red band. Ranges of very different sizes (a /12 of services beside single
//! node addresses) must all stay visible, so the axis is compressed: every stretch of addresses
//! that some range covers gets a width that grows with the logarithm of its size, and every
//! stretch nothing covers is a short fixed gap.
//!
//! Pure geometry, tested natively; the page turns it into SVG. It is drawn from what is written in
//! the form, not from the validated plan, so it still shows the ranges (and the overlap) while
//! validation refuses them.

use std::net::IpAddr;

use ipnetwork::IpNetwork;
use kbundle_core::plan::NetworkPlan;

use crate::form::Form;

/// Width of the drawing area, in SVG units.
pub const WIDTH: f64 = 720.0;
/// Width of a stretch that no range covers.
const GAP: f64 = 14.0;
/// Node pod ranges drawn one by one; the rest are drawn as one bar.
const NODE_RANGES_SHOWN: usize = 8;

/// One family's drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyMap {
    /// `IPv4` or `IPv6`.
    pub family: &'static str,
    /// One per row, top to bottom; rows with nothing in them are left out.
    pub rows: Vec<Row>,
    /// Where addresses that nothing covers were cut out of the axis.
    pub gaps: Vec<f64>,
    /// Red bands where ranges of different kinds share addresses.
    pub overlaps: Vec<Band>,
    /// Address labels along the axis.
    pub ticks: Vec<Tick>,
}

/// One row of bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What the row shows.
    pub label: &'static str,
    /// The bars.
    pub bars: Vec<Band>,
}

/// A horizontal stretch of the axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Left edge.
    pub x: f64,
    /// Width (at least one unit so single addresses show).
    pub width: f64,
    /// Short text drawn in or beside it.
    pub label: String,
    /// Longer text for the tooltip and screen readers.
    pub title: String,
    /// CSS class: `pods`, `node-range`, `services`, `node`, `overlap`.
    pub class: &'static str,
}

/// An address written under the axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Position.
    pub x: f64,
    /// The address.
    pub label: String,
}

/// Which kind of range: overlaps between different groups are what the picture warns about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pods,
    NodeRange,
    Services,
    Node,
}

impl Kind {
    const ROWS: [(Kind, &'static str); 4] = [
        (Kind::Pods, "Pod range"),
        (Kind::NodeRange, "Node pod ranges"),
        (Kind::Services, "Service range"),
        (Kind::Node, "Node addresses"),
    ];

    fn class(self) -> &'static str {
        match self {
            Kind::Pods => "pods",
            Kind::NodeRange => "node-range",
            Kind::Services => "services",
            Kind::Node => "node",
        }
    }

    /// Node ranges are inside the pod range by design: not an overlap.
    fn group(self) -> u8 {
        match self {
            Kind::Pods | Kind::NodeRange => 0,
            Kind::Services => 1,
            Kind::Node => 2,
        }
    }
}

#[derive(Debug, Clone)]
struct Interval {
    start: u128,
    end: u128,
    kind: Kind,
    label: String,
    title: String,
}

/// The picture for what the form holds; `plan` (when the form is valid) adds each node's range.
pub fn address_map(form: &Form, plan: Option<&NetworkPlan>) -> Vec<FamilyMap> {
    let mut intervals: Vec<(bool, Interval)> = Vec::new();
    let add_network = |network: IpNetwork, kind: Kind, label: String, title: String| {
        let (start, end) = bounds(network);
        let interval = Interval {
            start,
            end,
            kind,
            label,
            title,
        };
        (network.is_ipv4(), interval)
    };
    let pods = ranges(&form.networking.pod_subnet, "10.244.0.0/16");
    let services = ranges(&form.networking.service_subnet, "10.96.0.0/12");
    for network in pods {
        intervals.push(add_network(
            network,
            Kind::Pods,
            network.to_string(),
            format!("pod range {network}"),
        ));
    }
    for network in services {
        intervals.push(add_network(
            network,
            Kind::Services,
            network.to_string(),
            format!("service range {network}"),
        ));
    }
    if let Some(plan) = plan {
        for family in 0..plan.pod_subnets.len() {
            let mut slices: Vec<(String, IpNetwork)> = plan
                .nodes
                .iter()
                .filter_map(|node| Some((node.name.clone(), *node.pod_cidrs.get(family)?)))
                .collect();
            // Ranges are placed by node name, not in node order: drawn in address order, the
            // first few apart and the rest folded into one band above them.
            slices.sort_by_key(|(_, network)| bounds(*network).0);
            for (name, network) in slices.iter().take(NODE_RANGES_SHOWN) {
                intervals.push(add_network(
                    *network,
                    Kind::NodeRange,
                    name.clone(),
                    format!("{name}: pods {network}"),
                ));
            }
            if slices.len() > NODE_RANGES_SHOWN {
                let rest = &slices[NODE_RANGES_SHOWN..];
                let (start, _) = bounds(rest[0].1);
                let (_, end) = bounds(rest[rest.len() - 1].1);
                intervals.push((
                    rest[0].1.is_ipv4(),
                    Interval {
                        start,
                        end,
                        kind: Kind::NodeRange,
                        label: format!("+{}", rest.len()),
                        title: format!(
                            "{} more nodes: {} … {}",
                            rest.len(),
                            rest[0].1,
                            rest[rest.len() - 1].1
                        ),
                    },
                ));
            }
        }
    }
    for node in &form.nodes {
        for address in node.address.split(',') {
            if let Ok(ip) = address.trim().parse::<IpAddr>() {
                let network = IpNetwork::from(ip);
                intervals.push(add_network(
                    network,
                    Kind::Node,
                    node.name.clone(),
                    format!("{} {ip}", node.name),
                ));
            }
        }
    }
    [(true, "IPv4"), (false, "IPv6")]
        .into_iter()
        .filter_map(|(v4, family)| {
            let of_family: Vec<Interval> = intervals
                .iter()
                .filter(|(is_v4, _)| *is_v4 == v4)
                .map(|(_, interval)| interval.clone())
                .collect();
            (!of_family.is_empty()).then(|| layout(family, v4, &of_family))
        })
        .collect()
}

fn layout(family: &'static str, v4: bool, intervals: &[Interval]) -> FamilyMap {
    // Stretches between consecutive boundaries are covered by the same ranges throughout.
    let mut points: Vec<u128> = intervals
        .iter()
        .flat_map(|i| [i.start, i.end.saturating_add(1)])
        .collect();
    points.sort_unstable();
    points.dedup();
    let covered = |start: u128, end: u128| {
        intervals
            .iter()
            .any(|interval| interval.start <= start && end <= interval.end)
    };
    // Raw widths first, then scaled to fit.
    struct Stretch {
        start: u128,
        end: u128,
        x: f64,
        width: f64,
    }
    let mut stretches: Vec<Stretch> = Vec::new();
    let mut gaps_at = Vec::new();
    let mut x = 0.0;
    for pair in points.windows(2) {
        let (start, end) = (pair[0], pair[1] - 1);
        if covered(start, end) {
            let size = (end - start + 1) as f64;
            let width = 4.0 + 2.0 * size.log2();
            stretches.push(Stretch {
                start,
                end,
                x,
                width,
            });
            x += width;
        } else {
            gaps_at.push(x);
            x += GAP;
        }
    }
    let scale = if x > 0.0 { WIDTH / x } else { 1.0 };
    for stretch in &mut stretches {
        stretch.x *= scale;
        stretch.width *= scale;
    }
    let gaps = gaps_at.iter().map(|gap| gap * scale).collect();
    let span = |start: u128, end: u128| -> (f64, f64) {
        let first = stretches
            .iter()
            .find(|s| s.start <= start && start <= s.end);
        let last = stretches.iter().find(|s| s.start <= end && end <= s.end);
        match (first, last) {
            (Some(first), Some(last)) => (first.x, last.x + last.width - first.x),
            _ => (0.0, 0.0),
        }
    };

    let rows = Kind::ROWS
        .iter()
        .filter_map(|(kind, label)| {
            let bars: Vec<Band> = intervals
                .iter()
                .filter(|interval| interval.kind == *kind)
                .map(|interval| {
                    let (x, width) = span(interval.start, interval.end);
                    Band {
                        x,
                        width: width.max(1.0),
                        label: interval.label.clone(),
                        title: interval.title.clone(),
                        class: kind.class(),
                    }
                })
                .collect();
            (!bars.is_empty()).then_some(Row { label, bars })
        })
        .collect();

    let mut overlaps = Vec::new();
    for (index, a) in intervals.iter().enumerate() {
        for b in &intervals[index + 1..] {
            if a.kind.group() == b.kind.group() {
                continue;
            }
            let (start, end) = (a.start.max(b.start), a.end.min(b.end));
            if start <= end {
                let (x, width) = span(start, end);
                overlaps.push(Band {
                    x,
                    width: width.max(1.0),
                    label: "overlap".into(),
                    title: format!("{} overlaps {}", a.title, b.title),
                    class: "overlap",
                });
            }
        }
    }

    // One address under the start of every run of covered stretches.
    let mut ticks = Vec::new();
    let mut previous_end: Option<u128> = None;
    for stretch in &stretches {
        if previous_end.is_none_or(|end| end.saturating_add(1) != stretch.start) {
            ticks.push(Tick {
                x: stretch.x,
                label: address(v4, stretch.start),
            });
        }
        previous_end = Some(stretch.end);
    }

    FamilyMap {
        family,
        rows,
        gaps,
        overlaps,
        ticks,
    }
}

/// The ranges written in a field (`v4` or `v4,v6`), or the default when it is empty; what does not
/// parse is left out (validation reports it next to the field).
fn ranges(text: &str, default: &str) -> Vec<IpNetwork> {
    let text = if text.trim().is_empty() {
        default
    } else {
        text
    };
    text.split(',')
        .filter_map(|part| part.trim().parse::<IpNetwork>().ok())
        .collect()
}

fn bounds(network: IpNetwork) -> (u128, u128) {
    match network {
        IpNetwork::V4(v4) => (
            u128::from(u32::from(v4.network())),
            u128::from(u32::from(v4.broadcast())),
        ),
        IpNetwork::V6(v6) => {
            let start = u128::from(v6.network());
            let host_bits = 128 - u32::from(v6.prefix());
            let mask = if host_bits == 128 {
                u128::MAX
            } else {
                (1u128 << host_bits) - 1
            };
            (start, start | mask)
        }
    }
}

fn address(v4: bool, value: u128) -> String {
    if v4 {
        std::net::Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX)).to_string()
    } else {
        std::net::Ipv6Addr::from(value).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kbundle_core::config::ClusterConfig;

    fn plan(form: &Form) -> NetworkPlan {
        let validated = ClusterConfig::from_raw(&form.to_raw().0).expect("valid");
        NetworkPlan::new(&validated.config)
    }

    #[test]
    fn the_example_draws_four_rows_without_overlap() {
        let form = Form::example();
        let maps = address_map(&form, Some(&plan(&form)));
        assert_eq!(maps.len(), 1);
        let v4 = &maps[0];
        assert_eq!(v4.family, "IPv4");
        let labels: Vec<_> = v4.rows.iter().map(|row| row.label).collect();
        assert_eq!(
            labels,
            [
                "Pod range",
                "Node pod ranges",
                "Service range",
                "Node addresses"
            ]
        );
        assert!(v4.overlaps.is_empty(), "{:?}", v4.overlaps);
        assert_eq!(v4.rows[1].bars.len(), 3);
        // Everything fits in the drawing, and even a single address is visible.
        for bar in v4.rows.iter().flat_map(|row| &row.bars) {
            assert!(
                bar.x >= 0.0 && bar.x + bar.width <= WIDTH + 0.001,
                "{bar:?}"
            );
            assert!(bar.width >= 1.0);
        }
        // Node ranges lie inside the pod range, in order.
        let pods = &v4.rows[0].bars[0];
        let ranges = &v4.rows[1].bars;
        assert!(ranges.windows(2).all(|pair| pair[0].x < pair[1].x));
        assert!(
            ranges
                .iter()
                .all(|r| r.x >= pods.x && r.x + r.width <= pods.x + pods.width + 0.001)
        );
    }

    #[test]
    fn overlapping_pod_and_service_ranges_show_a_red_band() {
        let mut form = Form::example();
        form.networking.pod_subnet = "10.96.0.0/16".into();
        // Validation refuses it, and the picture still shows why.
        assert!(form.check().validated.is_none());
        let maps = address_map(&form, None);
        let overlap = &maps[0].overlaps;
        assert_eq!(overlap.len(), 1, "{overlap:?}");
        assert!(overlap[0].title.contains("pod range 10.96.0.0/16"));
        assert!(overlap[0].title.contains("service range 10.96.0.0/12"));
    }

    #[test]
    fn a_node_inside_the_service_range_is_an_overlap() {
        let mut form = Form::example();
        form.nodes[0].address = "10.96.0.1".into();
        let maps = address_map(&form, None);
        assert_eq!(maps[0].overlaps.len(), 1);
        assert!(maps[0].overlaps[0].title.contains("cp1 10.96.0.1"));
    }

    #[test]
    fn dual_stack_draws_both_families_and_many_nodes_fold() {
        let mut form = Form::example();
        form.nodes.clear();
        for i in 0..20 {
            form.add_node(&format!("198.51.100.{},2001:db8::{}", 10 + i, 10 + i));
        }
        form.networking.pod_subnet = "10.244.0.0/16,fd00:10:244::/56".into();
        form.networking.service_subnet = "10.96.0.0/12,fd00:10:96::/112".into();
        form.networking.node_cidr_mask_size = "24,64".into();
        let maps = address_map(&form, Some(&plan(&form)));
        assert_eq!(maps.len(), 2);
        for map in &maps {
            assert!(
                map.overlaps.is_empty(),
                "{}: {:?}",
                map.family,
                map.overlaps
            );
            let node_ranges = &map.rows[1].bars;
            assert_eq!(node_ranges.len(), NODE_RANGES_SHOWN + 1);
            assert_eq!(node_ranges[NODE_RANGES_SHOWN].label, "+12");
            assert!(!map.ticks.is_empty() && !map.gaps.is_empty());
        }
    }

    #[test]
    fn unreadable_ranges_are_left_out_not_guessed() {
        let mut form = Form::example();
        form.networking.service_subnet = "10.96.0.0/40".into();
        let maps = address_map(&form, None);
        assert!(maps[0].rows.iter().all(|row| row.label != "Service range"));
    }
}
