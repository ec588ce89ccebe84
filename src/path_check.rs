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
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e)) {
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
    tracing::warn!(path = %req.uri().path(), "path not in normal form");
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
