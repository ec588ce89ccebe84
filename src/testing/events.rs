//! [`EventStream`]: one open live channel (`GET /auth/events`) read event by event, in-process
//! through the router or from a real server over HTTP.

use std::{pin::Pin, time::Duration};

use axum::http::{HeaderMap, StatusCode};
use futures::{Stream, StreamExt};

use super::TestResult;

type Chunks = Pin<Box<dyn Stream<Item = Result<Vec<u8>, String>> + Send>>;

/// One Server-Sent Event: its name and data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sse {
    pub event: String,
    pub data: String,
}

/// An open event stream.
pub struct EventStream {
    pub status: StatusCode,
    pub headers: HeaderMap,
    chunks: Chunks,
    buffer: String,
    finished: bool,
}

/// What waiting for the next event found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Event(Sse),
    /// The server closed the stream.
    Closed,
    TimedOut,
}

impl EventStream {
    pub(super) fn new(status: StatusCode, headers: HeaderMap, chunks: Chunks) -> Self {
        Self {
            status,
            headers,
            chunks,
            buffer: String::new(),
            finished: false,
        }
    }

    /// From a response of a real server.
    pub fn from_reqwest(response: reqwest::Response) -> Self {
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::OK);
        let mut headers = HeaderMap::new();
        for (k, v) in response.headers() {
            if let (Ok(k), Ok(v)) = (
                axum::http::HeaderName::from_bytes(k.as_str().as_bytes()),
                axum::http::HeaderValue::from_bytes(v.as_bytes()),
            ) {
                headers.append(k, v);
            }
        }
        let chunks = response
            .bytes_stream()
            .map(|c| c.map(|b| b.to_vec()).map_err(|e| e.to_string()));
        Self::new(status, headers, Box::pin(chunks))
    }

    /// The next event (comments skipped), the end of the stream, or nothing within `within`.
    pub async fn next(&mut self, within: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(sse) = parse(&block) {
                    return Next::Event(sse);
                }
                continue;
            }
            if self.finished {
                return Next::Closed;
            }
            match tokio::time::timeout_at(deadline, self.chunks.next()).await {
                Err(_) => return Next::TimedOut,
                Ok(None) | Ok(Some(Err(_))) => self.finished = true,
                Ok(Some(Ok(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
            }
        }
    }

    /// The next event named `name` within `within`, skipping others (heartbeats).
    pub async fn expect(&mut self, name: &str, within: Duration) -> TestResult<Sse> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::Event(e) if e.event == name => return Ok(e),
                Next::Event(_) => {}
                other => return Err(format!("waiting for `{name}`: {other:?}")),
            }
        }
    }
}

fn parse(block: &str) -> Option<Sse> {
    let mut event = String::from("message");
    let mut data: Vec<&str> = Vec::new();
    let mut any = false;
    for line in block.lines() {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => {
                event = value.to_string();
                any = true;
            }
            "data" => {
                data.push(value);
                any = true;
            }
            _ => {}
        }
    }
    any.then(|| Sse {
        event,
        data: data.join("\n"),
    })
}
