//! Which pod range each node gets. The API server refuses to change a Node's `spec.podCIDRs`
//! once set, so a range must never move: nodes keep the ranges of the previous bundle when it is
//! given, and a new node's range depends only on its name and the set of taken ranges, never on
//! its place in cluster.yaml.
//!
//! Every family is cut into slots of the node mask; a node takes the same slot index in every
//! family (dual-stack nodes get matching ranges). A new node's preferred slot is a hash of its
//! name modulo the number of slots (`max_nodes`); a taken slot sends it to the next one (linear
//! probing). New nodes are placed in name order, so without a previous bundle the result depends
//! only on the set of names: reordering cluster.yaml moves nothing, and inserting a node moves
//! another one only when the newcomer sorts before it and takes its slot. With a previous bundle,
//! no node that was in it ever moves.

use std::collections::{BTreeMap, BTreeSet};

use ipnetwork::IpNetwork;

use crate::config::{ClusterConfig, Diagnostic};
use crate::net;

/// Pod ranges that nodes already have, by node name, primary family first: the ranges of the
/// bundle applied before (its `plan.json`).
pub type PreviousRanges = BTreeMap<String, Vec<IpNetwork>>;

/// Each node's pod ranges, in config order, and what kept a previous range from being used or a
/// new node from getting one. A node without a range in the result has its family's whole pod
/// subnet as a placeholder and a finding naming it, so the caller decides whether to refuse.
pub(super) fn assign(
    config: &ClusterConfig,
    previous: &PreviousRanges,
) -> (Vec<Vec<IpNetwork>>, Vec<Diagnostic>) {
    let families = &config.networking.families;
    let slots = families
        .iter()
        .map(|family| net::subnet_count(family.pod_subnet, family.node_mask))
        .min()
        .unwrap_or(0);
    let placeholder: Vec<IpNetwork> = families.iter().map(|family| family.pod_subnet).collect();
    let mut ranges = vec![placeholder; config.nodes.len()];
    let mut findings = Vec::new();
    // Per family: slot index → the node holding it.
    let mut taken: Vec<BTreeMap<u128, &str>> = vec![BTreeMap::new(); families.len()];

    // Previous ranges first, in config order: they are fixed, new nodes go around them.
    for (index, node) in config.nodes.iter().enumerate() {
        let Some(old) = previous.get(&node.name) else {
            continue;
        };
        let path = format!("spec.nodes[{index}].name");
        let old_text = old
            .iter()
            .map(|range| net::canonical(*range))
            .collect::<Vec<_>>()
            .join(",");
        let refuse = |message: String| {
            Diagnostic::error(path.clone(), message)
                .value(&node.name)
                .hint(format!(
                    "keep spec.networking.podSubnet and nodeCIDRMaskSize as in the previous \
                     bundle (they held `{old_text}`): the API server cannot change a Node's pod \
                     range once set (other ranges need the Node deleted first, kubectl delete \
                     node {}, and a bundle made without --from)",
                    node.name
                ))
        };
        if old.len() != families.len() {
            findings.push(refuse(format!(
                "had the pod ranges `{old_text}` in the previous bundle, {} for the cluster's {} \
                 IP famil{}",
                if old.len() < families.len() {
                    "too few"
                } else {
                    "too many"
                },
                families.len(),
                if families.len() == 1 { "y" } else { "ies" }
            )));
            continue;
        }
        let mut slots_of_node = Vec::new();
        for (range, family) in old.iter().zip(families) {
            match slot_of(*range, family.pod_subnet, family.node_mask) {
                Some(slot) => slots_of_node.push(slot),
                None => {
                    findings.push(refuse(format!(
                        "had the pod range `{}` in the previous bundle, which is not a /{} range \
                         inside the pod subnet `{}`",
                        net::canonical(*range),
                        family.node_mask,
                        net::canonical(family.pod_subnet)
                    )));
                    break;
                }
            }
        }
        if slots_of_node.len() != families.len() {
            continue;
        }
        let holder = slots_of_node
            .iter()
            .zip(&taken)
            .find_map(|(slot, held)| held.get(slot).copied());
        if let Some(holder) = holder {
            findings.push(
                Diagnostic::error(path.clone(), format!(
                    "had the pod range `{old_text}` in the previous bundle, and so had node `{holder}`"
                ))
                .value(&node.name)
                .hint("the previous bundle is damaged: pass the bundle that was applied last to --from"),
            );
            continue;
        }
        for (slot, held) in slots_of_node.iter().zip(&mut taken) {
            held.insert(*slot, node.name.as_str());
        }
        ranges[index].clone_from(old);
    }

    // New nodes in name order, so that their file order cannot matter.
    let mut new_nodes: Vec<(usize, &str)> = config
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| !previous.contains_key(&node.name))
        .map(|(index, node)| (index, node.name.as_str()))
        .collect();
    new_nodes.sort_by_key(|(_, name)| *name);
    for (index, name) in new_nodes {
        match free_slot(name, slots, &taken) {
            Some(slot) => {
                for (family_index, (family, held)) in families.iter().zip(&mut taken).enumerate() {
                    held.insert(slot, name);
                    // The slot is below every family's slot count, so the range exists.
                    if let Some(range) = net::nth_subnet(family.pod_subnet, family.node_mask, slot)
                    {
                        ranges[index][family_index] = range;
                    }
                }
            }
            None => findings.push(
                Diagnostic::error(
                    format!("spec.nodes[{index}].name"),
                    "gets no pod range: the ranges kept from the previous bundle leave none free",
                )
                .value(name)
                .hint("use a larger spec.networking.podSubnet or a longer nodeCIDRMaskSize"),
            ),
        }
    }
    (ranges, findings)
}

/// The slot index of `range` among the `/node_mask` ranges of `pod_subnet`, if it is one of them.
fn slot_of(range: IpNetwork, pod_subnet: IpNetwork, node_mask: u8) -> Option<u128> {
    if range.prefix() != node_mask
        || net::has_host_bits(range)
        || net::IpFamily::of_network(range) != net::IpFamily::of_network(pod_subnet)
        || !pod_subnet.contains(range.network())
        || node_mask < pod_subnet.prefix()
    {
        return None;
    }
    let host_bits = u32::from(net::IpFamily::of_network(range).bits() - node_mask);
    let offset = net::to_u128(range.network()) - net::to_u128(pod_subnet.network());
    Some(offset.checked_shr(host_bits).unwrap_or(0))
}

/// The first slot from the name's hashed slot on (wrapping around) that no family has taken.
fn free_slot(name: &str, slots: u128, taken: &[BTreeMap<u128, &str>]) -> Option<u128> {
    if slots == 0 {
        return None;
    }
    let start = u128::from(name_hash(name)) % slots;
    // Each taken slot of any family blocks at most one index, so one more step than there are
    // taken slots finds a free one whenever there is one (IPv6 can have 2^64 slots: never walk
    // them all).
    let blocked: BTreeSet<u128> = taken.iter().flat_map(|held| held.keys().copied()).collect();
    let steps = slots.min(blocked.len() as u128 + 1);
    (0..steps)
        .map(|step| (start + step) % slots)
        .find(|slot| !blocked.contains(slot))
}

/// FNV-1a (64-bit) of the name, then the SplitMix64 finaliser so that the low bits, which pick
/// the slot, depend on every byte. Written out rather than taken from `std::hash`, whose output
/// may change between Rust releases and platforms: this value decides where ranges go, so it
/// must be the same on every machine, in wasm32, and in every future kbundle (changing it would
/// move the ranges of bundles generated without `--from`; a test pins known values).
pub(crate) fn name_hash(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}
