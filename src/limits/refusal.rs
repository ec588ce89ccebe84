//! How a limit says no: a short page for a browser (with the way back), an OAuth-style JSON
//! error for anything else; never cached.

use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

/// `status` with `message` (plain words, no details), as a page when the client asked for
/// HTML, else as `{"error": code, "error_description": message}`.
pub fn refusal(request: &HeaderMap, status: StatusCode, code: &str, message: &str) -> Response {
    let wants_html = request
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let mut res = if wants_html {
        let title = status.canonical_reason().unwrap_or("Refused");
        (
            status,
            Html(crate::plain_page::document(
                title,
                &format!(
                    "<h1>{}</h1><p>{}</p><p><a href=\"/\">Back to the home page</a></p>",
                    crate::plain_page::esc(title),
                    crate::plain_page::esc(message)
                ),
            )),
        )
            .into_response()
    } else {
        (
            status,
            Json(serde_json::json!({ "error": code, "error_description": message })),
        )
            .into_response()
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
