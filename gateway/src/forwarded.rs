//! Where a request came from, for the access log: the TCP peer, or — only
//! when that peer is one of the operator's own proxies — the client
//! address the proxies forwarded.
//!
//! `X-Forwarded-For` and `Forwarded` are whatever the sender wrote, so they
//! count only when a trusted proxy sent the request, and then only from
//! the right: each trusted proxy appends the address it heard from, so the
//! rightmost address that is not itself a trusted proxy is the client.
//! `X-Forwarded-For` is read when present (nginx, HAProxy, Envoy, Traefik
//! and the cloud load balancers append to it), `Forwarded` (RFC 7239)
//! otherwise; a proxy that writes only `Forwarded` must drop a client's
//! `X-Forwarded-For`. Anything that is not an IP address makes the whole
//! header untrusted, and the peer is recorded instead.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies (address ranges) whose forwarding headers are believed.
/// Empty by default: nobody's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list of CIDR ranges (`10.0.0.0/8`) or single
    /// addresses (`192.0.2.7`, `::1`); empty for none.
    fn from_str(list: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let range = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    "trusted proxies must be IP addresses or CIDR ranges (e.g. 10.0.0.0/8), separated by commas"
                        .to_owned()
                })?;
            ranges.push(range.trunc());
        }
        Ok(Self(ranges))
    }
}

/// Most forwarding hops read before giving up on a header: a longer
/// chain than this is no real deployment's.
const MAX_HOPS: usize = 32;

impl TrustedProxies {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|range| range.contains(&address))
    }

    /// The address to record for a request from `peer` with `headers`:
    /// the peer's `ip:port`, or the forwarded client's IP when the peer is
    /// a trusted proxy and its header is well-formed.
    pub fn client_address(&self, peer: SocketAddr, headers: &HeaderMap) -> String {
        if self.is_empty() || !self.trusts(peer.ip()) {
            return peer.to_string();
        }
        let chain = forwarded_chain(headers);
        match chain.and_then(|chain| self.client_in(&chain)) {
            Some(client) => client.to_string(),
            None => peer.to_string(),
        }
    }

    /// The rightmost address that is not a trusted proxy; the leftmost if
    /// every one is. `None` for an empty chain.
    fn client_in(&self, chain: &[IpAddr]) -> Option<IpAddr> {
        chain
            .iter()
            .rev()
            .find(|a| !self.trusts(**a))
            .or_else(|| chain.first())
            .map(|a| a.to_canonical())
    }
}

/// The addresses of the forwarding header in use, left (oldest) to right;
/// `None` when it is absent, malformed or too long.
fn forwarded_chain(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let joined = |name: &str| -> Option<Option<String>> {
        let mut values = headers.get_all(name).iter().peekable();
        values.peek()?;
        let mut all = Vec::new();
        for value in values {
            match value.to_str() {
                Ok(text) => all.push(text.to_owned()),
                Err(_) => return Some(None),
            }
        }
        Some(Some(all.join(",")))
    };
    let (text, node): (String, fn(&str) -> Option<IpAddr>) = match joined("x-forwarded-for") {
        Some(text) => (text?, x_forwarded_for_node),
        None => (joined("forwarded")??, forwarded_element),
    };
    let items: Vec<&str> = text.split(',').map(str::trim).collect();
    if items.len() > MAX_HOPS {
        return None;
    }
    items.into_iter().map(node).collect()
}

/// One `X-Forwarded-For` entry: an IP, or an IP with a port
/// (`192.0.2.1:443`, `[2001:db8::1]:443`).
fn x_forwarded_for_node(item: &str) -> Option<IpAddr> {
    item.parse::<IpAddr>()
        .ok()
        .or_else(|| item.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// One `Forwarded` element's `for=` node: `for=192.0.2.60`,
/// `for="[2001:db8::17]:4711"`. Obfuscated or `unknown` nodes, and
/// elements without `for`, are not addresses.
fn forwarded_element(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })?;
    let value = match value.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"')?,
        None => value,
    };
    if let Some(bracketed) = value.strip_prefix('[') {
        let (v6, rest) = bracketed.split_once(']')?;
        let port_ok = rest.is_empty()
            || rest
                .strip_prefix(':')
                .is_some_and(|p| p.parse::<u16>().is_ok());
        if !port_ok {
            return None;
        }
        return v6.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    x_forwarded_for_node(value).filter(IpAddr::is_ipv4)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn proxies(list: &str) -> TrustedProxies {
        list.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40_000)
    }

    #[test]
    fn an_untrusted_peer_is_recorded_whatever_it_claims() {
        let claims = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=198.51.100.8"),
        ]);
        assert_eq!(
            TrustedProxies::default().client_address(peer("203.0.113.9"), &claims),
            "203.0.113.9:40000",
            "nobody is trusted by default"
        );
        assert_eq!(
            proxies("10.0.0.0/8").client_address(peer("203.0.113.9"), &claims),
            "203.0.113.9:40000"
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let trusted = proxies("10.0.0.0/8, 192.0.2.1");
        let xff = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(
            trusted.client_address(peer("10.1.2.3"), &xff),
            "198.51.100.7"
        );
        assert_eq!(
            trusted.client_address(peer("192.0.2.1"), &xff),
            "198.51.100.7"
        );
        let forwarded = headers(&[(
            "forwarded",
            "for=\"[2001:db8:cafe::17]:4711\";proto=https;by=10.0.0.1",
        )]);
        assert_eq!(
            trusted.client_address(peer("10.1.2.3"), &forwarded),
            "2001:db8:cafe::17"
        );
        // No header from a trusted proxy: the proxy itself.
        assert_eq!(
            trusted.client_address(peer("10.1.2.3"), &HeaderMap::new()),
            "10.1.2.3:40000"
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_in_a_chain() {
        let trusted = proxies("10.0.0.0/8");
        // The client forged the first entry; the proxies appended the rest.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.5")]);
        assert_eq!(
            trusted.client_address(peer("10.0.0.6"), &chain),
            "198.51.100.7"
        );
        // Several header lines are one list, in order.
        let split = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7, 10.0.0.5"),
        ]);
        assert_eq!(
            trusted.client_address(peer("10.0.0.6"), &split),
            "198.51.100.7"
        );
        // All hops trusted: the first one is where it began.
        let internal = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.5")]);
        assert_eq!(
            trusted.client_address(peer("10.0.0.6"), &internal),
            "10.9.9.9"
        );
        let forwarded = headers(&[(
            "forwarded",
            "for=1.2.3.4, for=198.51.100.7;proto=https, for=10.0.0.5",
        )]);
        assert_eq!(
            trusted.client_address(peer("10.0.0.6"), &forwarded),
            "198.51.100.7"
        );
        // X-Forwarded-For wins when both are sent.
        let both = headers(&[
            ("forwarded", "for=1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(
            trusted.client_address(peer("10.0.0.6"), &both),
            "198.51.100.7"
        );
    }

    #[test]
    fn junk_makes_the_peer_the_answer() {
        let trusted = proxies("10.0.0.0/8");
        let cases = [
            ("x-forwarded-for", "198.51.100.7, <script>"),
            ("x-forwarded-for", "unknown"),
            ("x-forwarded-for", ""),
            ("x-forwarded-for", "198.51.100.7,,10.0.0.5"),
            ("x-forwarded-for", "198.51.100.999"),
            ("forwarded", "for=_hidden"),
            ("forwarded", "for=unknown"),
            ("forwarded", "proto=https"),
            ("forwarded", "for=\"[2001:db8::1\""),
            ("forwarded", "for=2001:db8::1"),
        ];
        for (name, value) in cases {
            assert_eq!(
                trusted.client_address(peer("10.0.0.6"), &headers(&[(name, value)])),
                "10.0.0.6:40000",
                "{name}: {value}"
            );
        }
        let long = vec!["198.51.100.7"; MAX_HOPS + 1].join(",");
        assert_eq!(
            trusted.client_address(peer("10.0.0.6"), &headers(&[("x-forwarded-for", &long)])),
            "10.0.0.6:40000"
        );
        let mut binary = HeaderMap::new();
        binary.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"198.51.100.7\xff").unwrap(),
        );
        assert_eq!(
            trusted.client_address(peer("10.0.0.6"), &binary),
            "10.0.0.6:40000"
        );
    }

    #[test]
    fn mapped_ipv4_peers_and_ports_are_understood() {
        let trusted = proxies("10.0.0.0/8");
        let xff = headers(&[("x-forwarded-for", "198.51.100.7:5000")]);
        assert_eq!(
            trusted.client_address(peer("::ffff:10.0.0.6"), &xff),
            "198.51.100.7"
        );
        let v6 = headers(&[("x-forwarded-for", "[2001:db8::1]:443")]);
        assert_eq!(trusted.client_address(peer("10.0.0.6"), &v6), "2001:db8::1");
    }

    #[test]
    fn the_list_is_parsed_strictly() {
        assert!(proxies("").is_empty());
        assert_eq!(proxies(" 10.0.0.1/8 ,::1"), proxies("10.0.0.0/8,::1/128"));
        for bad in ["10.0.0.0/33", "proxy.internal", "10.0.0.0/8;"] {
            let refused = bad.parse::<TrustedProxies>().unwrap_err();
            assert!(!refused.contains(bad), "the rule, not the value: {refused}");
        }
    }
}
