//! Paths must arrive normalized: no `.` or `..` segments, no empty segments (`//`), no encoded
//! dots, slashes or backslashes (`%2e`, `%2f`, `%5c`), no backslashes. Anything else is
//! refused with 400 before routing, so no layer (the guard's public-path list, the router,
//! the static files) can read a path differently from another.

use axum::{extract::Request, http::StatusCode, middleware::Next, response::Response};

use crate::limits::refusal;

/// Whether the raw (still percent-encoded) `path` is in normal form.
pub fn is_normalized(path: &str) -> bool {
    if !path.starts_with('/') || path.contains("//") || path.contains('\\') {
        return false;
    }
    // encoded dot, slash or backslash, in either case (no allocation: this runs per request)
    let encoded_separator = path.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                (w[1], w[2].to_ascii_lowercase()),
                (b'2', b'e') | (b'2', b'f') | (b'5', b'c')
            )
    });
    if encoded_separator {
        return false;
    }
    !path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
}

pub async fn refuse_unnormalized(req: Request, next: Next) -> Response {
    if is_normalized(req.uri().path()) {
        return next.run(req).await;
    }
    tracing::debug!(path = %req.uri().path(), "path not in normal form");
    refusal(
        req.headers(),
        StatusCode::BAD_REQUEST,
        "invalid_path",
        "This address is not one this app serves.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_and_not() {
        for ok in [
            "/",
            "/profile",
            "/pkg/signin.js",
            "/api/auth_status",
            "/a.b/c..d/.e",
            "/%20",
        ] {
            assert!(is_normalized(ok), "{ok}");
        }
        for bad in [
            "",
            "profile",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/./b",
            "/a/../b",
            "/pkg/..",
            "/%2e%2e/x",
            "/%2E/x",
            "/a%2fb",
            "/a%2Fb",
            "/a%5cb",
            "/a\\b",
            "/x/.",
        ] {
            assert!(!is_normalized(bad), "{bad}");
        }
    }
}

/// Property tests: a path the check accepts cannot climb out or hide a separator, once
/// percent-decoded as a file server or another layer might; plain paths are accepted.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn decoded_segments(path: &str) -> Vec<String> {
        let decoded =
            url::form_urlencoded::parse(format!("p={}", path.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
        decoded.split(['/', '\\']).map(str::to_string).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn accepted_paths_have_no_traversal(path in "(/[a-zA-Z0-9.%/\\\\_-]{0,10}){1,4}") {
            if is_normalized(&path) {
                let segments = decoded_segments(&path);
                prop_assert!(
                    !segments.iter().any(|s| s == "." || s == ".."),
                    "{:?} decodes to {:?}", path, segments
                );
                prop_assert!(!path.contains("//"));
            }
        }

        #[test]
        fn plain_paths_are_accepted(segments in proptest::collection::vec("[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,8}", 0..6)) {
            let path = format!("/{}", segments.join("/"));
            prop_assert!(is_normalized(&path), "{}", path);
        }

        #[test]
        fn any_dot_segment_or_encoding_is_refused(
            segments in proptest::collection::vec("[a-z0-9]{1,6}", 0..5),
            at in 0usize..6,
            bad in prop_oneof![Just("."), Just(".."), Just(""), Just("%2e"), Just("%2E%2e"), Just("a%2fb"), Just("%5C"), Just("a\\b")],
        ) {
            let mut segments = segments;
            let at = at.min(segments.len());
            segments.insert(at, bad.to_string());
            segments.push("end".into());
            let path = format!("/{}", segments.join("/"));
            prop_assert!(!is_normalized(&path), "{}", path);
        }
    }
}
