//! The client's address, as far as it can be known: the connection's peer, unless the peer is
//! a proxy this server trusts, whose word for the client is then taken.
//!
//! The gateway is the public door. With nothing in front of it (it trusts no proxy) it ignores
//! `X-Forwarded-For`, which any client can write; behind a load balancer or the web app it
//! walks that header from the right, past the proxies it trusts, to the first address it does
//! not. It hands the result on in [`HEADER`], which it removes from what clients send, and a
//! service takes that header only from a peer it trusts: the gateway.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The header in which the gateway tells a service the client's address.
pub const HEADER: &str = "x-client-address";

/// Address ranges of the proxies whose word for the client is taken, e.g.
/// `["10.0.0.0/8", "::1/128"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts no one: every peer is the client.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// Trusts this machine only (a gateway on the same host).
    #[expect(clippy::expect_used, reason = "constant ranges parse")]
    pub fn loopback() -> Self {
        Self(
            ["127.0.0.0/8", "::1/128"]
                .iter()
                .map(|range| range.parse().expect("a loopback range parses"))
                .collect(),
        )
    }

    /// Whether `address` is one of the trusted proxies.
    pub fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|range| range.contains(&address))
    }

    /// The client of a request from `peer` carrying `forwarded_for` (the `X-Forwarded-For`
    /// values, in order): the nearest address, walking from the peer outwards, that is not a
    /// trusted proxy. A hop that is not an address ends the walk at the last one that was.
    pub fn client_behind<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str, IntoIter: DoubleEndedIterator>,
    ) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        for hop in forwarded_for
            .into_iter()
            .rev()
            .flat_map(|value| value.rsplit(','))
        {
            let Ok(hop) = hop.trim().parse::<IpAddr>() else {
                return client;
            };
            client = hop.to_canonical();
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }

    /// The client of a request from `peer` that says it is `claimed` (the gateway's
    /// [`HEADER`]): the claim if the peer is trusted and it is an address, the peer otherwise.
    pub fn client_from(&self, peer: IpAddr, claimed: Option<&str>) -> IpAddr {
        let peer = peer.to_canonical();
        match claimed.map(|claimed| claimed.trim().parse::<IpAddr>()) {
            Some(Ok(client)) if self.trusts(peer) => client.to_canonical(),
            _ => peer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(address: &str) -> IpAddr {
        address.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn trusting(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies(ranges.iter().filter_map(|r| r.parse().ok()).collect())
    }

    #[test]
    fn with_no_proxy_trusted_the_peer_is_the_client_whatever_it_forwards() {
        let client = TrustedProxies::none().client_behind(ip("198.51.100.7"), ["203.0.113.1"]);
        assert_eq!(client, ip("198.51.100.7"));
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_first_untrusted_hop_from_the_right() {
        let proxies = trusting(&["10.0.0.0/8"]);
        // A client that forged an entry, then a second proxy of ours, then the one we see.
        let client =
            proxies.client_behind(ip("10.0.0.2"), ["203.0.113.66, 198.51.100.7", "10.0.0.9"]);
        assert_eq!(client, ip("198.51.100.7"));
    }

    #[test]
    fn an_unreadable_hop_stops_the_walk_at_the_last_readable_one() {
        let proxies = trusting(&["10.0.0.0/8"]);
        let client = proxies.client_behind(ip("10.0.0.2"), ["198.51.100.7, garbage, 10.0.0.9"]);
        assert_eq!(client, ip("10.0.0.9"));
        assert_eq!(proxies.client_behind(ip("10.0.0.2"), []), ip("10.0.0.2"));
    }

    #[test]
    fn an_ipv4_peer_seen_over_ipv6_is_still_trusted() {
        let proxies = TrustedProxies::loopback();
        assert!(proxies.trusts(ip("::ffff:127.0.0.1")));
        assert!(!proxies.trusts(ip("::ffff:198.51.100.7")));
    }

    #[test]
    fn a_claimed_client_is_taken_only_from_a_trusted_peer() {
        let proxies = TrustedProxies::loopback();
        let claim = Some("198.51.100.7");
        assert_eq!(
            proxies.client_from(ip("127.0.0.1"), claim),
            ip("198.51.100.7")
        );
        assert_eq!(
            proxies.client_from(ip("203.0.113.9"), claim),
            ip("203.0.113.9")
        );
        assert_eq!(
            proxies.client_from(ip("127.0.0.1"), Some("not an address")),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn ranges_are_configured_as_cidr_strings() {
        let parsed: TrustedProxies = serde_json::from_str(r#"["10.0.0.0/8", "::1/128"]"#)
            .unwrap_or_else(|_| TrustedProxies::none());
        assert!(parsed.trusts(ip("10.1.2.3")));
        assert!(!parsed.trusts(ip("11.1.2.3")));
    }
}
