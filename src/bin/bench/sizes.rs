//! Row (5): what a browser downloads (wasm and JS, raw / gzip / brotli), the session cookie
//! and what the store keeps per signed-in session.

use std::{path::Path, process::Command};

use crate::{
    Opts,
    report::{Row, row},
    support::{Res, bench_app, sign_in_in_process},
};

fn compressed_len(path: &Path, tool: &str, args: &[&str]) -> Res<u64> {
    let out = Command::new(tool)
        .args(args)
        .arg(path)
        .output()
        .map_err(|e| format!("{tool}: {e} (scripts/bench installs it)"))?;
    if !out.status.success() {
        return Err(format!("{tool} failed on {}", path.display()));
    }
    Ok(out.stdout.len() as u64)
}

pub async fn sizes(o: &Opts) -> Res<Vec<Row>> {
    let pkg = o.site_root.join("pkg");
    let mut total_br = 0u64;
    let mut rows = vec![];
    for (id, file) in [("size_wasm", "signin.wasm"), ("size_js", "signin.js")] {
        let path = pkg.join(file);
        let raw = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        let gz = compressed_len(&path, "gzip", &["-9", "-c"])?;
        let br = compressed_len(&path, "brotli", &["-q", "11", "-c"])?;
        total_br += br;
        rows.push(row(
            id,
            &format!("{file}: raw / gzip / brotli"),
            br as f64 / 1024.0,
            "KB br",
            "—",
            None,
            format!(
                "{:.1} / {:.1} / {:.1} KB",
                raw as f64 / 1024.0,
                gz as f64 / 1024.0,
                br as f64 / 1024.0
            ),
        ));
    }
    let kb = total_br as f64 / 1024.0;
    rows.push(row(
        "size_total_br",
        "wasm + JS for the signed-in pages, brotli",
        kb,
        "KB",
        "≤ 120 KB",
        Some(kb <= 120.0),
        String::new(),
    ));

    let app = bench_app(&[]).await?;
    let cookie = sign_in_in_process(&app)
        .await?
        .jar
        .cookie
        .ok_or("no session cookie")?;
    rows.push(row(
        "cookie_len",
        "Session cookie (name=value)",
        cookie.len() as f64,
        "B",
        "≤ 100 B",
        Some(cookie.len() <= 100),
        cookie.split('=').next().unwrap_or_default().to_string(),
    ));
    let id: tower_sessions::session::Id = cookie
        .split_once('=')
        .map(|(_, v)| v)
        .unwrap_or_default()
        .parse()
        .map_err(|_| "bad id")?;
    let record = tower_sessions::SessionStore::load(&app.state.keeper.store, &id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no record")?;
    let bytes = serde_json::to_vec(&record)
        .map_err(|e| e.to_string())?
        .len();
    rows.push(row(
        "session_bytes",
        "Bytes stored per signed-in session (JSON record)",
        bytes as f64,
        "B",
        "—",
        None,
        "tokens + claims + times".into(),
    ));
    Ok(rows)
}
