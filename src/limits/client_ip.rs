//! Who "one client" is, for rate limits: the address the connection comes from — or, when
//! that is a configured trusted proxy (`LIMITS_TRUSTED_PROXIES`), the address it says it
//! forwarded for: `X-Forwarded-For` read from the right, skipping trusted proxies, the first
//! other address. Anyone can write that header, so it is believed only from trusted proxies.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{extract::ConnectInfo, http::Request};
use ipnet::IpNet;

/// The client's address; the unspecified address when the request came without a socket
/// (in-process tests).
pub fn client_ip<B>(req: &Request<B>, trusted: &[IpNet]) -> IpAddr {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if !is_trusted(&peer, trusted) {
        return peer;
    }
    // From the right: each trusted proxy appended the address it received from. The first
    // one that is not a trusted proxy is the client; what lies left of it is the client's
    // own (unverifiable) say, never read. An entry that does not parse ends the walk there.
    let entries: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_forwarded(entry) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip, trusted) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, `v4:port` or `[v6]:port`.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()?;
    Some(ip.to_canonical())
}

/// The rate-limit key for `ip`: the address itself for IPv4, its /64 for IPv6 (one
/// subscriber usually holds a whole /64, so single IPv6 addresses would be free to rotate).
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
    }
}

fn is_trusted(ip: &IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(peer: &str, xff: &[&str]) -> Request<()> {
        let mut b = Request::builder();
        for v in xff {
            b = b.header("x-forwarded-for", *v);
        }
        let mut r = b.body(()).unwrap();
        r.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        r
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // an untrusted peer's header is ignored
        assert_eq!(
            client_ip(&req("203.0.113.9:1", &["1.2.3.4"]), &trusted),
            ip("203.0.113.9")
        );
        // a trusted proxy: the right-most address that is not a trusted proxy
        assert_eq!(
            client_ip(
                &req("10.0.0.2:1", &["6.6.6.6, 198.51.100.7, 10.0.0.3"]),
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(&req("10.0.0.2:1", &["6.6.6.6", "198.51.100.7"]), &trusted),
            ip("198.51.100.7")
        );
        // nothing forwarded, or garbage: the proxy itself
        assert_eq!(client_ip(&req("10.0.0.2:1", &[]), &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_ip(&req("10.0.0.2:1", &["nonsense"]), &trusted),
            ip("10.0.0.2")
        );
        // IPv4-mapped IPv6 peers are their IPv4 address
        assert_eq!(
            client_ip(&req("[::ffff:10.0.0.2]:1", &["198.51.100.8"]), &trusted),
            ip("198.51.100.8")
        );
        // no trusted proxies configured: never believed
        assert_eq!(
            client_ip(&req("10.0.0.2:1", &["1.2.3.4"]), &[]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn the_walk_from_the_right() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // garbage the client wrote on the left does not hide the address the proxy appended
        assert_eq!(
            client_ip(&req("10.0.0.2:1", &["nonsense, 198.51.100.9"]), &trusted),
            ip("198.51.100.9")
        );
        // ports as some proxies write them
        assert_eq!(
            client_ip(&req("10.0.0.2:1", &["198.51.100.10:5000"]), &trusted),
            ip("198.51.100.10")
        );
        assert_eq!(
            client_ip(&req("10.0.0.2:1", &["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
        // a chain of trusted proxies, then the client
        assert_eq!(
            client_ip(
                &req("10.0.0.2:1", &["203.0.113.5, 10.1.1.1, 10.2.2.2"]),
                &trusted
            ),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(rate_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(rate_key(ip("2001:db8:1:2:bbbb::9")), ip("2001:db8:1:2::"));
        assert_ne!(rate_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(rate_key(ip("192.0.2.7")), ip("192.0.2.7"));
    }
}
