//! One browser seen by the app in-process: its cookie ([`Jar`]) and the responses it gets
//! ([`Resp`], body read).

use axum::http::{HeaderMap, StatusCode, header};

/// A response with its body read.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The first value of header `name`, or "" when it is absent or not text.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }
}

/// One browser's cookie for the app (`name=value`).
#[derive(Default, Clone, Debug)]
pub struct Jar {
    pub cookie: Option<String>,
}

impl Jar {
    /// Keeps what the response set (a `Max-Age=0` cookie empties the jar).
    pub fn absorb(&mut self, resp: &Resp) {
        for c in resp.set_cookies() {
            let pair = c.split(';').next().unwrap_or_default().to_string();
            if c.contains("Max-Age=0") {
                self.cookie = None;
            } else {
                self.cookie = Some(pair);
            }
        }
    }

    pub fn session_id(&self) -> Option<String> {
        self.cookie.as_deref().and_then(session_id)
    }
}

/// The session id in a `name=value` cookie.
pub fn session_id(cookie: &str) -> Option<String> {
    cookie.split_once('=').map(|(_, v)| v.to_string())
}
