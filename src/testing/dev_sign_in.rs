//! The development provider seen from outside: its sign-in page driven as a browser would,
//! and one RSA key shared by every provider a test process starts (generating one costs more
//! than most tests).

use std::{path::PathBuf, sync::OnceLock};

use axum::http::{StatusCode, header};

use super::TestResult;

/// Opens `authorize_url` on the development provider, submits the decision form with `fields`
/// (e.g. `[("user", "0")]`, `[("action", "deny")]`) and returns where the provider redirects
/// (the app's callback URL).
pub async fn complete_sign_in(
    http: &reqwest::Client,
    authorize_url: &str,
    fields: &[(&str, &str)],
) -> TestResult<String> {
    let page = http
        .get(authorize_url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if page.status() != StatusCode::OK {
        return Err(format!("authorize page answered {}", page.status()));
    }
    let html = page.text().await.map_err(|e| e.to_string())?;
    let interaction = html
        .split("name=\"interaction\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .ok_or("no interaction id on the sign-in page")?
        .to_string();
    let mut form: Vec<(&str, &str)> = vec![("interaction", &interaction)];
    form.extend_from_slice(fields);
    let base = authorize_url
        .split("/authorize")
        .next()
        .unwrap_or(authorize_url);
    let res = http
        .post(format!("{base}/authorize/decision"))
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    res.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| format!("decision answered {} without a redirect", res.status()))
}

/// A PKCS#1 PEM RSA key, generated once per process.
pub fn shared_key_pem() -> TestResult<String> {
    static PEM: OnceLock<Result<String, String>> = OnceLock::new();
    PEM.get_or_init(|| {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
            .map_err(|e| format!("RSA key: {e}"))?;
        key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| format!("RSA key: {e}"))
    })
    .clone()
}

/// Puts the shared key where the development provider looks for its key.
pub(super) fn install_key(state_dir: &str) -> TestResult<()> {
    let dir = PathBuf::from(state_dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("key.pem");
    if !path.exists() {
        std::fs::write(&path, shared_key_pem()?).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
