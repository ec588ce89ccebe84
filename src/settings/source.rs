//! Where settings come from: built-in defaults, then `Leptos.toml`, then `SECTION_KEY`
//! environment variables (with the Okta CLI's `OKTA_OAUTH2_*` aliases), merged into one TOML
//! table before the typed sections validate it.

use super::{SettingsError, invalid};

/// Applies `SECTION_KEY` environment overrides (and the Okta CLI aliases) to scalar keys.
pub(super) fn apply_env(
    merged: &mut toml::Table,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), SettingsError> {
    let aliases: [(&str, &str, &str); 2] = [
        ("oidc", "issuer", "OKTA_OAUTH2_ISSUER"),
        ("oidc", "client_id", "OKTA_OAUTH2_CLIENT_ID"),
    ];
    for (section, table) in merged.iter_mut() {
        let Some(table) = table.as_table_mut() else {
            continue;
        };
        for (key, value) in table.iter_mut() {
            let name = format!("{section}_{key}").to_ascii_uppercase();
            let alias = aliases
                .iter()
                .find(|(s, k, _)| s == section && k == key)
                .map(|(_, _, a)| *a);
            let Some(text) = env(&name).or_else(|| alias.and_then(env)) else {
                continue;
            };
            *value = match value {
                toml::Value::String(_) => toml::Value::String(text),
                toml::Value::Integer(_) => {
                    toml::Value::Integer(text.trim().parse().map_err(|_| {
                        invalid(&name, format!("must be a whole number, got {text:?}"))
                    })?)
                }
                toml::Value::Boolean(_) => {
                    toml::Value::Boolean(parse_bool(&text).ok_or_else(|| {
                        invalid(&name, format!("must be true or false, got {text:?}"))
                    })?)
                }
                toml::Value::Array(items) if items.iter().all(|i| i.is_str()) => {
                    toml::Value::Array(
                        text.split([',', ' '])
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(|s| toml::Value::String(s.to_string()))
                            .collect(),
                    )
                }
                _ => return Err(invalid(&name, "cannot be set from the environment")),
            };
        }
    }
    Ok(())
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}
