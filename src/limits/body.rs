//! Request bodies: at most `LIMITS_BODY_BYTES`, arriving within the request timeout. A
//! declared `Content-Length` over the limit is refused before reading; otherwise the body is
//! read through `http_body_util::Limited`, which stops at the limit — nothing past it is
//! buffered. The app's bodies are small forms and server-function arguments; reading them
//! here, once, lets every handler below trust their size.

use std::time::Duration;

use axum::{
    body::{Body, HttpBody},
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::Response,
};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::refusal::refusal;

#[derive(Clone)]
pub struct BodyLimit {
    pub max: usize,
    pub timeout: Duration,
}

impl BodyLimit {
    pub async fn apply(State(limit): State<Self>, req: Request, next: Next) -> Response {
        if HttpBody::size_hint(req.body()).exact() == Some(0) {
            return next.run(req).await;
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit.max as u64) {
            return too_large(&req);
        }
        let (parts, body) = req.into_parts();
        let read =
            tokio::time::timeout(limit.timeout, Limited::new(body, limit.max).collect()).await;
        match read {
            Ok(Ok(collected)) => {
                next.run(Request::from_parts(parts, Body::from(collected.to_bytes())))
                    .await
            }
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
                too_large(&Request::from_parts(parts, ()))
            }
            Ok(Err(_)) => refusal(
                &parts.headers,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request could not be read.",
            ),
            Err(_) => refusal(
                &parts.headers,
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "The request took too long to arrive. Please try again.",
            ),
        }
    }
}

fn too_large<B>(req: &axum::http::Request<B>) -> Response {
    refusal(
        req.headers(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "request_too_large",
        "The request is larger than this app accepts.",
    )
}
