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
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|a| a.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()))
        .collect::<Result<_, _>>()
        .unwrap_or_default(); // a malformed header counts as none
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(ip, trusted))
        .unwrap_or(peer)
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
}
