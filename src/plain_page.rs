//! The few pages written without Leptos (answers given before the app renders: a limit's
//! refusal, the session store being down, a third-party login from an unknown provider): one
//! document around them, with the app's stylesheet and the same viewport and colour schemes as
//! the rendered pages, so they fit a phone and follow dark mode too.

use crate::auth::reason::ErrorReason;

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A whole page: `title` (text) and `main` (HTML, already escaped) in the app's layout.
pub fn document(title: &str, main: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/pkg/signin.css\"></head>\
         <body><main class=\"container\">{main}</main></body></html>",
        title = esc(title),
    )
}

/// The error card of `reason` (as on `/auth/error`) with the way back, as a whole page.
pub fn error_page(reason: ErrorReason) -> String {
    document(
        reason.title(),
        &format!(
            "<section class=\"card error\" role=\"alert\" data-testid=\"auth-error\">\
             <h1>{title}</h1><p>{text}</p>\
             <p class=\"muted\">Reference: <code>{code}</code></p>\
             <p><a class=\"button secondary\" href=\"/\">Back to the home page</a></p></section>",
            title = esc(reason.title()),
            text = esc(reason.explanation()),
            code = reason.code(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_fit_a_phone_and_escape_text() {
        let page = document("<Refused>", "<p>x</p>");
        assert!(page.contains("name=\"viewport\""));
        assert!(page.contains("<title>&lt;Refused&gt;</title>"));
        assert!(page.contains("<main class=\"container\"><p>x</p></main>"));
        let error = error_page(ErrorReason::SessionUnavailable);
        assert!(error.contains("data-testid=\"auth-error\""));
        assert!(error.contains("href=\"/\""));
    }
}
