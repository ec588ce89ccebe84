//! Leptos' islands loader as a cached file instead of inline in every page.
//!
//! `leptos::HydrationScripts` writes its loader (the island script and the islands router,
//! about 13 KB) inline into every page it renders: every response carries it again, and the
//! server formats and writes it each time. The loader is the same for every page of a build,
//! so here it is rendered once, at start-up, by that same component, and served from memory at
//! `/pkg/boot.<hash>.js` (immutable, gzip when the browser takes it); pages refer to it with a
//! `<script type="module" src nonce>`. A module script runs at the same moment whether inline
//! or external (after parsing, in order), so the islands hydrate as before.
//!
//! Written by hand because Leptos offers no option for it. The loader's text is not copied
//! from Leptos: it is taken from the component's own output, so it follows Leptos upgrades.
//! If that output ever stops looking as expected (`Boot::from_rendered` finds no loader), the
//! pages fall back to Leptos' inline scripts ([`crate::app::shell`]).

use std::{
    io::Write,
    sync::{Arc, OnceLock},
};

use axum::{
    body::Bytes,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use leptos::{
    config::LeptosOptions,
    hydration::HydrationScripts,
    prelude::{Owner, RenderHtml},
};
use sha2::{Digest, Sha256};

/// The loader, as rendered once for this build.
#[derive(Debug)]
pub struct Boot {
    /// Where the loader is served: `/pkg/boot.<16 hex digits of its SHA-256>.js`.
    pub path: Arc<str>,
    /// The app's JS, which Leptos preloads as a module.
    pub js_href: Arc<str>,
    /// The app's WebAssembly, which Leptos preloads.
    pub wasm_href: Arc<str>,
    body: Bytes,
    gzip: Option<Bytes>,
}

static BOOT: OnceLock<Option<Arc<Boot>>> = OnceLock::new();

/// The loader for these options, rendered on first use; `None` when Leptos' output did not
/// look as expected (the pages then keep the inline scripts).
pub fn boot(options: &LeptosOptions) -> Option<Arc<Boot>> {
    BOOT.get_or_init(|| {
        let html = Owner::new().with(|| {
            leptos::view! {
                <HydrationScripts options=options.clone() islands=true islands_router=true />
            }
            .to_html()
        });
        let boot = Boot::from_rendered(&html);
        if boot.is_none() {
            tracing::warn!("Leptos' hydration scripts changed shape: pages keep the loader inline");
        }
        boot.map(Arc::new)
    })
    .clone()
}

impl Boot {
    /// Takes the two preload links and the inline module script out of what
    /// `HydrationScripts` rendered.
    fn from_rendered(html: &str) -> Option<Boot> {
        let js_href = attr_after(html, "rel=\"modulepreload\"", "href")?;
        let wasm_href = attr_after(html, "rel=\"preload\"", "href")?;
        let start = html.find("<script type=\"module\"")?;
        let open_end = start + html[start..].find('>')? + 1;
        let len = html[open_end..].find("</script>")?;
        let loader = &html[open_end..open_end + len];
        if loader.trim().is_empty() || !js_href.ends_with(".js") || !wasm_href.ends_with(".wasm") {
            return None;
        }
        let digest = Sha256::digest(loader.as_bytes());
        let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Some(Boot {
            path: format!("/pkg/boot.{hash}.js").into(),
            js_href: js_href.into(),
            wasm_href: wasm_href.into(),
            gzip: gzip(loader.as_bytes()).map(Bytes::from),
            body: Bytes::from(loader.to_owned()),
        })
    }

    /// The loader's response: immutable (its name changes with its content), gzip when the
    /// request accepts it.
    pub fn response(&self, request: &HeaderMap) -> Response {
        let accepts_gzip = request
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|coding| {
                let mut parts = coding.split(';');
                let name = parts.next().unwrap_or_default().trim();
                // `q=0` (any case, any number of zero decimals) refuses the coding
                let refused = parts.any(|p| {
                    let p = p.trim().to_ascii_lowercase();
                    p.strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                name.eq_ignore_ascii_case("gzip") && !refused
            });
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        match (&self.gzip, accepts_gzip) {
            (Some(gz), true) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                (headers, gz.clone()).into_response()
            }
            _ => (headers, self.body.clone()).into_response(),
        }
    }

    /// The loader's text (tests, the benchmark's size row).
    pub fn text(&self) -> &[u8] {
        &self.body
    }
}

/// The value of `name="…"` in the tag holding `marker`.
fn attr_after(html: &str, marker: &str, name: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let key = format!(" {name}=\"");
    let value_start = tag.find(&key)? + key.len();
    let value_len = tag[value_start..].find('"')?;
    Some(tag[value_start..value_start + value_len].to_owned())
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> LeptosOptions {
        LeptosOptions::builder().output_name("signin").build()
    }

    #[test]
    fn takes_leptos_loader_out_of_the_rendered_scripts() {
        let boot = boot(&options()).expect("Leptos' scripts have the expected shape");
        assert!(boot.path.starts_with("/pkg/boot.") && boot.path.ends_with(".js"));
        assert_eq!(&*boot.js_href, "/pkg/signin.js");
        assert!(boot.wasm_href.starts_with("/pkg/signin") && boot.wasm_href.ends_with(".wasm"));
        let text = std::str::from_utf8(boot.text()).unwrap();
        // the island loader called with this build's file names, then the islands router
        assert!(
            text.contains("\"/pkg/signin.js\"") || text.contains("\"signin\""),
            "{text}"
        );
        assert!(text.len() > 5_000, "{} bytes", text.len());
        assert!(!text.contains("</script>"));
    }

    #[test]
    fn unexpected_shape_is_refused() {
        assert!(Boot::from_rendered("<script type=\"module\">x()</script>").is_none());
        assert!(Boot::from_rendered("").is_none());
    }

    #[test]
    fn gzip_only_when_accepted() {
        let boot = boot(&options()).unwrap();
        let mut h = HeaderMap::new();
        assert!(
            boot.response(&h)
                .headers()
                .get(header::CONTENT_ENCODING)
                .is_none()
        );
        for refused in ["br, gzip;q=0", "gzip; Q=0.000", "br;q=1, gzip ; q=0"] {
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(refused));
            let res = boot.response(&h);
            assert!(
                res.headers().get(header::CONTENT_ENCODING).is_none(),
                "{refused}"
            );
        }
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0.5"),
        );
        assert_eq!(
            boot.response(&h).headers()[header::CONTENT_ENCODING],
            "gzip"
        );
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        let res = boot.response(&h);
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(
            res.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
    }
}
