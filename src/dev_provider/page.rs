//! The development provider's pages (sign-in, signed-out, errors), as plain HTML strings.
//! Every dynamic value goes through [`esc`].

use super::{
    DemoButton,
    authorize::{Asked, EARLIER_SIGN_IN_SECS},
    grants::LiveSession,
};

/// HTML-escapes text for element content and quoted attribute values (the app's own).
pub use crate::plain_page::esc;

const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#f6f7fb;--card:#fff;--fg:#1c2033;--muted:#5d6483;--accent:#4b5bdc;--accent-fg:#fff;--line:#dfe2ee;--danger:#c23b3b}
@media (prefers-color-scheme:dark){:root{--bg:#12141c;--card:#1b1e2a;--fg:#e8eaf3;--muted:#9aa0ba;--line:#2c3042;--danger:#ff7b7b;--accent:#7482ff;--accent-fg:#0e1130}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg)}
main{max-width:420px;margin:8vh auto;padding:0 16px;overflow-wrap:anywhere}
@media (max-width:400px){main{margin:16px auto}.card{padding:20px 16px}}
.card{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:28px;box-shadow:0 6px 24px rgba(20,24,60,.07)}
.brand{font-weight:700;color:var(--accent);letter-spacing:.02em;margin-bottom:4px}
h1{font-size:1.35rem;margin:.2rem 0 1rem}.muted{color:var(--muted);font-size:.92rem}
.users{display:grid;gap:10px;margin:16px 0}
button,.button{font:inherit;border-radius:10px;border:1px solid var(--line);padding:10px 14px;cursor:pointer;background:var(--card);color:var(--fg);text-align:left;width:100%;display:block;text-decoration:none}
button.user:hover{border-color:var(--accent)}button.user small{display:block;color:var(--muted)}
button.primary{background:var(--accent);color:var(--accent-fg);border-color:var(--accent);text-align:center}
button.deny{color:var(--danger);text-align:center;margin-top:14px}
input{font:inherit;width:100%;padding:10px 12px;border-radius:10px;border:1px solid var(--line);background:var(--bg);color:var(--fg);margin:6px 0 10px}
hr{border:0;border-top:1px solid var(--line);margin:20px 0}.session{display:grid;gap:6px;padding:12px;border:1px solid var(--line);border-radius:10px}.session small{display:block}.notice{padding:10px;border-radius:10px;background:var(--bg)}.badge{display:inline-block;font-size:.75rem;background:#ffe9b3;color:#6b4b00;border-radius:6px;padding:2px 8px}
"#;

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head>\
         <body><main><div class=\"card\"><div class=\"brand\">◆ Signin <span class=\"badge\">development provider</span></div>{body}</div>\
         <p class=\"muted\">This sign-in page belongs to the embedded development OpenID Provider. \
         Point the app at Okta with OIDC_ISSUER to use real accounts.</p></main></body></html>",
        esc(title)
    )
}

/// The sign-in page: demo users, sign in as anyone by email, or deny — with a note on what the
/// app asked of this sign-in (a step-up), and, when an earlier sign-in would do, the choice to
/// continue with a provider session from earlier (demo users).
pub(super) fn sign_in_page(
    interaction: &str,
    client_name: &str,
    users: &[DemoButton],
    asked: &Asked,
) -> String {
    let buttons: String = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            format!(
                "<button class=\"user\" type=\"submit\" name=\"user\" value=\"{i}\" data-testid=\"demo-user\">\
                 <strong>{}</strong><small>{}</small></button>",
                esc(&u.name),
                esc(&u.email)
            )
        })
        .collect();
    let mut notes = String::new();
    if asked.prompt_login || asked.max_age.is_some() {
        let within = match asked.max_age {
            Some(age) => format!(" (within the last {})", duration(age)),
            None => String::new(),
        };
        notes.push_str(&format!(
            "<p class=\"notice\" data-testid=\"fresh-sign-in-asked\">The app asked for a fresh \
             sign-in{within}: please sign in again.</p>"
        ));
    }
    if let Some(values) = &asked.acr_values {
        let what = match &asked.acr {
            Some(class) => format!(
                "It will be recorded as <code>{}</code> (a real provider would ask for a second \
                 factor now).",
                esc(class)
            ),
            None => "This provider knows none of these, so the sign-in will not say it met one."
                .to_string(),
        };
        notes.push_str(&format!(
            "<p class=\"notice\" data-testid=\"stronger-sign-in-asked\">The app asked for a \
             stronger sign-in: <code>{}</code>. {what}</p>",
            esc(values)
        ));
    }
    let earlier = if asked.earlier_session_allowed() {
        format!(
            "<label class=\"muted\"><input type=\"checkbox\" name=\"earlier\" value=\"1\" \
             data-testid=\"earlier-session\" style=\"width:auto\"> Continue with a provider \
             session from {} ago (single sign-on: no new sign-in)</label>",
            duration(EARLIER_SIGN_IN_SECS)
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>Sign in to {client}</h1>{notes}\
         <form method=\"post\" action=\"authorize/decision\">\
         <input type=\"hidden\" name=\"interaction\" value=\"{interaction}\">\
         <div class=\"users\">{buttons}</div>{earlier}</form><hr>\
         <form method=\"post\" action=\"authorize/decision\">\
         <input type=\"hidden\" name=\"interaction\" value=\"{interaction}\">\
         <label class=\"muted\" for=\"email\">Or sign in as anyone</label>\
         <input id=\"email\" name=\"email\" type=\"email\" required placeholder=\"name@example.com\" autocomplete=\"email\"{hint}>\
         <button class=\"primary\" type=\"submit\" name=\"action\" value=\"email\">Continue</button></form>\
         <form method=\"post\" action=\"authorize/decision\">\
         <input type=\"hidden\" name=\"interaction\" value=\"{interaction}\">\
         <button class=\"deny\" type=\"submit\" name=\"action\" value=\"deny\">Deny — don't sign in</button></form>",
        client = esc(client_name),
        interaction = esc(interaction),
        hint = asked
            .login_hint
            .as_deref()
            .map(|h| format!(" value=\"{}\" data-testid=\"login-hint\"", esc(h)))
            .unwrap_or_default(),
    );
    layout("Sign in", &body)
}

/// "5 minutes", "45 seconds".
fn duration(secs: i64) -> String {
    match secs {
        s if s >= 120 && s % 60 == 0 => format!("{} minutes", s / 60),
        60 => "a minute".to_string(),
        s => format!("{s} seconds"),
    }
}

/// A page for requests that cannot be redirected back (bad client or redirect URI).
pub fn error(message: &str) -> String {
    layout(
        "Sign-in request refused",
        &format!("<h1>Sign-in request refused</h1><p>{}</p>", esc(message)),
    )
}

/// After logout without a (valid) redirect.
pub fn signed_out() -> String {
    layout(
        "Signed out",
        "<h1>You are signed out</h1><p class=\"muted\">You can close this page.</p>",
    )
}

/// The live provider sessions, each with "Sign out" (back-channel logout) and "Universal
/// Logout" (Global Token Revocation) buttons.
pub fn sessions(live: &[LiveSession], notice: Option<&str>) -> String {
    let notice = notice
        .map(|n| {
            format!(
                "<p class=\"notice\" role=\"status\" data-testid=\"notice\">{}</p>",
                esc(n)
            )
        })
        .unwrap_or_default();
    let rows: String = if live.is_empty() {
        "<p class=\"muted\" data-testid=\"no-sessions\">Nobody is signed in here.</p>".into()
    } else {
        live.iter()
            .map(|s| {
                format!(
                    "<div class=\"session\" data-testid=\"session\" data-email=\"{email}\">\
                     <strong>{name}</strong><small class=\"muted\">{email} · session {sid}</small>\
                     <form method=\"post\" action=\"sessions/logout\"><input type=\"hidden\" name=\"sid\" value=\"{sid}\">\
                     <button type=\"submit\" data-testid=\"sign-out\">Sign out (back-channel logout)</button></form>\
                     <form method=\"post\" action=\"sessions/universal-logout\"><input type=\"hidden\" name=\"sub\" value=\"{sub}\">\
                     <button type=\"submit\" data-testid=\"universal-logout\">Universal Logout (all of {name}'s sessions)</button></form></div>",
                    name = esc(&s.identity.name),
                    email = esc(&s.identity.email),
                    sid = esc(&s.sid),
                    sub = esc(&s.identity.sub),
                )
            })
            .collect()
    };
    layout(
        "Sessions",
        &format!(
            "<h1>Active sessions</h1>{notice}<div class=\"users\">{rows}</div>\
             <p class=\"muted\">Sign out sends the app an OpenID Connect back-channel logout token; \
             Universal Logout sends it a signed Okta Global Token Revocation request.</p>"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_user_data() {
        let users = [DemoButton {
            name: "<script>alert(1)</script>".into(),
            email: "a\"@x".into(),
        }];
        let html = sign_in_page("abc", "app", &users, &Asked::default());
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("a&quot;@x"));
    }
}
