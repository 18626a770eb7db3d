//! Address arithmetic on IPv4 and IPv6 ranges, done on `u128` so both families share one code
//! path. Pure functions only; used by validation and by the network plan.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::IpNetwork;
use serde::Serialize;

/// An IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum IpFamily {
    /// IPv4.
    #[serde(rename = "IPv4")]
    V4,
    /// IPv6.
    #[serde(rename = "IPv6")]
    V6,
}

impl IpFamily {
    /// The family of an address.
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(_) => Self::V4,
            IpAddr::V6(_) => Self::V6,
        }
    }

    /// The family of a range.
    pub fn of_network(network: IpNetwork) -> Self {
        Self::of(network.network())
    }

    /// Address width in bits.
    pub fn bits(self) -> u8 {
        match self {
            Self::V4 => 32,
            Self::V6 => 128,
        }
    }

    /// "IPv4" or "IPv6".
    pub fn name(self) -> &'static str {
        match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
        }
    }
}

/// The address as an integer.
pub fn to_u128(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The integer as an address of `family`; the value must fit the family.
pub fn from_u128(family: IpFamily, value: u128) -> IpAddr {
    match family {
        // Callers only pass values inside an IPv4 range, so the truncation never drops bits.
        IpFamily::V4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
        IpFamily::V6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// Number of addresses in the range, saturating at `u128::MAX` for `::/0`.
pub fn size(network: IpNetwork) -> u128 {
    let host_bits = u32::from(IpFamily::of_network(network).bits() - network.prefix());
    1u128.checked_shl(host_bits).unwrap_or(u128::MAX)
}

/// The `index`-th address of the range (0 is the network address), if the range has it.
pub fn nth_address(network: IpNetwork, index: u128) -> Option<IpAddr> {
    if index >= size(network) {
        return None;
    }
    let family = IpFamily::of_network(network);
    Some(from_u128(family, to_u128(network.network()) + index))
}

/// Whether `network` is written with host bits set (`10.0.0.1/8`).
pub fn has_host_bits(network: IpNetwork) -> bool {
    network.ip() != network.network()
}

/// How many subranges of length `prefix` fit in `network`: 2^(prefix − network prefix),
/// or 0 when `prefix` is shorter than the network's own.
pub fn subnet_count(network: IpNetwork, prefix: u8) -> u128 {
    if prefix < network.prefix() {
        return 0;
    }
    1u128
        .checked_shl(u32::from(prefix - network.prefix()))
        .unwrap_or(u128::MAX)
}

/// The `index`-th subrange of length `prefix` inside `network`.
pub fn nth_subnet(network: IpNetwork, prefix: u8, index: u128) -> Option<IpNetwork> {
    let family = IpFamily::of_network(network);
    if prefix > family.bits() || index >= subnet_count(network, prefix) {
        return None;
    }
    let step = 1u128.checked_shl(u32::from(family.bits() - prefix))?;
    let start = to_u128(network.network()) + index * step;
    IpNetwork::new(from_u128(family, start), prefix).ok()
}

/// Whether two ranges share any address (ranges of different families never do).
pub fn overlaps(a: IpNetwork, b: IpNetwork) -> bool {
    // Two aligned ranges overlap exactly when one holds the other's first address.
    IpFamily::of_network(a) == IpFamily::of_network(b)
        && (a.contains(b.network()) || b.contains(a.network()))
}

/// The range as canonical text (`10.244.0.0/16`).
pub fn canonical(network: IpNetwork) -> String {
    format!("{}/{}", network.network(), network.prefix())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNetwork {
        text.parse().expect("test CIDR")
    }

    #[test]
    fn nth_address_counts_from_network_address() {
        assert_eq!(
            nth_address(net("10.96.0.0/12"), 1),
            Some("10.96.0.1".parse().unwrap())
        );
        assert_eq!(
            nth_address(net("10.96.0.0/12"), 10),
            Some("10.96.0.10".parse().unwrap())
        );
        assert_eq!(nth_address(net("10.0.0.0/29"), 8), None);
        assert_eq!(
            nth_address(net("fd00::/112"), 10),
            Some("fd00::a".parse().unwrap())
        );
    }

    #[test]
    fn subnets_tile_the_range_in_order() {
        let pods = net("10.244.0.0/16");
        assert_eq!(subnet_count(pods, 24), 256);
        assert_eq!(nth_subnet(pods, 24, 0), Some(net("10.244.0.0/24")));
        assert_eq!(nth_subnet(pods, 24, 255), Some(net("10.244.255.0/24")));
        assert_eq!(nth_subnet(pods, 24, 256), None);
        assert_eq!(
            nth_subnet(net("fd00:10:244::/56"), 64, 3),
            Some(net("fd00:10:244:3::/64"))
        );
        assert_eq!(subnet_count(pods, 8), 0);
    }

    #[test]
    fn sizes_saturate_for_the_whole_ipv6_space() {
        assert_eq!(size(net("10.0.0.0/8")), 1 << 24);
        assert_eq!(size(net("::/0")), u128::MAX);
    }

    #[test]
    fn overlap_needs_same_family_and_shared_addresses() {
        assert!(overlaps(net("10.0.0.0/8"), net("10.96.0.0/12")));
        assert!(overlaps(net("10.96.0.0/12"), net("10.0.0.0/8")));
        assert!(!overlaps(net("10.244.0.0/16"), net("10.96.0.0/12")));
        assert!(!overlaps(net("10.0.0.0/8"), net("::/0")));
    }

    #[test]
    fn host_bits_are_detected() {
        assert!(has_host_bits(net("10.244.1.0/16")));
        assert!(!has_host_bits(net("10.244.0.0/16")));
    }
}
