//! Return paths: where a person lands after signing in.
//!
//! `return_to` comes from the query string of `/login`, so it is attacker-controlled. Only a
//! same-origin relative path is accepted: it must start with a single `/`, must not start with
//! `//` or `/\` (browsers treat those as protocol-relative URLs), must not contain control
//! characters or backslashes, and is limited in length. Anything else falls back to the
//! default page. Shared by the server (which enforces it) and the browser (which builds the
//! login link).

/// Longest return path kept (longer ones fall back to the default).
pub const MAX_RETURN_TO: usize = 1024;

/// `Some(path)` when `candidate` is a safe same-origin relative path.
pub fn safe_return_to(candidate: &str) -> Option<&str> {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.starts_with("/\\")
        && candidate.len() <= MAX_RETURN_TO
        && !candidate.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(candidate)
}

/// The checked return path, or `default`.
pub fn return_to_or<'a>(candidate: Option<&'a str>, default: &'a str) -> &'a str {
    candidate.and_then(safe_return_to).unwrap_or(default)
}

/// The sign-in URL that comes back to `path` afterwards.
pub fn login_url(path: &str) -> String {
    match safe_return_to(path) {
        Some(p) if p != "/" => format!("/login?return_to={}", encode_component(p)),
        _ => "/login".to_string(),
    }
}

/// [`login_url`] with more query parameters (`query`, already encoded; empty for none).
pub fn login_url_with(path: &str, query: &str) -> String {
    let base = login_url(path);
    match query {
        "" => base,
        q if base.contains('?') => format!("{base}&{q}"),
        q => format!("{base}?{q}"),
    }
}

/// Percent-encodes everything except unreserved characters and `/`.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => {
                // by hand: `format!("{:02X}")` would bring hex formatting into the WebAssembly
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_relative_paths() {
        for ok in ["/", "/profile", "/a/b?x=1&y=2#frag", "/search?q=%2F%2F"] {
            assert_eq!(safe_return_to(ok), Some(ok));
        }
    }

    #[test]
    fn rejects_everything_else() {
        let long = format!("/{}", "a".repeat(MAX_RETURN_TO));
        for bad in [
            "",
            "profile",
            "//evil.example.com",
            "/\\evil.example.com",
            "https://evil.example.com/",
            "http:/evil",
            "javascript:alert(1)",
            "/ok\\..\\x",
            "/\tx",
            "/x\r\nSet-Cookie: a=b",
            long.as_str(),
        ] {
            assert_eq!(safe_return_to(bad), None, "{bad:?} must be rejected");
            assert_eq!(return_to_or(Some(bad), "/profile"), "/profile");
        }
        assert_eq!(return_to_or(None, "/profile"), "/profile");
    }

    #[test]
    fn login_url_round_trips_query() {
        assert_eq!(login_url("/"), "/login");
        assert_eq!(login_url("/profile"), "/login?return_to=/profile");
        assert_eq!(login_url("/a?b=c&d"), "/login?return_to=/a%3Fb%3Dc%26d");
        assert_eq!(login_url("//evil"), "/login");
    }
}

/// Property tests: whatever the attacker writes, an accepted return path resolves, as a
/// browser resolves it (WHATWG URL), to this app's origin.
#[cfg(all(test, feature = "ssr"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn resolves_here(path: &str) -> bool {
        let base = url::Url::parse("https://app.example.com/profile").ok();
        base.and_then(|b| b.join(path).ok())
            .is_some_and(|u| u.origin().ascii_serialization() == "https://app.example.com")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn accepted_paths_stay_on_this_origin(candidate in "\\PC{0,40}|[/\\\\:.%a-z@\t]{0,12}") {
            if let Some(p) = safe_return_to(&candidate) {
                prop_assert_eq!(p, candidate.as_str());
                prop_assert!(resolves_here(p), "{:?} leaves the origin", p);
            }
            let chosen = return_to_or(Some(&candidate), "/profile");
            prop_assert!(chosen == candidate || chosen == "/profile");
        }

        #[test]
        fn plain_paths_are_kept(segments in proptest::collection::vec("[A-Za-z0-9._~-]{1,8}", 0..6)) {
            let path = format!("/{}", segments.join("/"));
            prop_assert_eq!(safe_return_to(&path), Some(path.as_str()));
        }

        #[test]
        fn login_url_round_trips(segments in proptest::collection::vec("[A-Za-z0-9 ._~%?&=-]{1,8}", 1..5)) {
            let path = format!("/{}", segments.join("/"));
            let url = login_url(&path);
            let parsed = url::Url::parse(&format!("https://app.example.com{url}")).ok();
            let back = parsed.and_then(|u| {
                u.query_pairs().find(|(k, _)| k == "return_to").map(|(_, v)| v.into_owned())
            });
            prop_assert_eq!(back.as_deref(), Some(path.as_str()));
        }
    }
}
