//! Row (5): what a browser downloads — the wasm and JS the first signed-in page (`/profile`)
//! references (Leptos' islands loader among them, served from memory), its inline scripts, and the rest of the app's wasm and JS (raw / gzip /
//! brotli) — the session cookie and what the store keeps per signed-in session.

use std::{path::Path, process::Command};

use axum::http::StatusCode;
use signin::testing::page;

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

/// The `/pkg/` files a page references (`<link href>` preloads and `<script src>`), and the
/// text of its inline scripts.
fn page_assets(html: &str) -> (Vec<String>, String) {
    let mut files = vec![];
    for attr in ["href=\"/pkg/", "src=\"/pkg/"] {
        for part in html.split(attr).skip(1) {
            if let Some(name) = part.split('"').next()
                && (name.ends_with(".js") || name.ends_with(".wasm"))
                && !files.iter().any(|f| f == name)
            {
                files.push(name.to_string());
            }
        }
    }
    let mut inline = String::new();
    for part in html.split("<script").skip(1) {
        let Some((attrs, rest)) = part.split_once('>') else {
            continue;
        };
        if !attrs.contains("src=") {
            inline.push_str(rest.split("</script>").next().unwrap_or_default());
        }
    }
    (files, inline)
}

/// raw, gzip and brotli sizes of `path`.
fn file_sizes(path: &Path) -> Res<(u64, u64, u64)> {
    let raw = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let gz = compressed_len(path, "gzip", &["-9", "-c"])?;
    let br = compressed_len(path, "brotli", &["-q", "11", "-c"])?;
    Ok((raw, gz, br))
}

fn kb(b: u64) -> f64 {
    b as f64 / 1024.0
}

pub async fn sizes(o: &Opts) -> Res<Vec<Row>> {
    let pkg = o.site_root.join("pkg");
    let app = bench_app(&[]).await?;
    let mut jar = sign_in_in_process(&app).await?.jar;
    let profile = app.request(&mut jar, page("/profile")).await?;
    if profile.status != StatusCode::OK {
        return Err(format!("/profile answered {}", profile.status));
    }
    let (referenced, inline) = page_assets(&profile.body);
    // The page names the files as the server build knows them; this binary is built without
    // cargo-leptos, whose LEPTOS_OUTPUT_NAME drops wasm-bindgen's `_bg` suffix.
    let first: Vec<String> = referenced
        .iter()
        .map(|f| match f.strip_suffix("_bg.wasm") {
            Some(stem) if !pkg.join(f).exists() => format!("{stem}.wasm"),
            _ => f.clone(),
        })
        .collect();
    if first.is_empty() {
        return Err("the signed-in page references no wasm or JS".into());
    }

    let mut rows = vec![];
    let mut first_br = 0u64;
    for (i, file) in first.iter().enumerate() {
        let on_disk = pkg.join(file);
        let (raw, gz, br) = if on_disk.exists() {
            file_sizes(&on_disk)?
        } else {
            // served from memory (the islands loader, `signin::boot_script`)
            let served = app.request(&mut jar, page(&format!("/pkg/{file}"))).await?;
            if served.status != StatusCode::OK {
                return Err(format!("/pkg/{file} answered {}", served.status));
            }
            let copy = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
            std::fs::write(copy.path(), &served.body).map_err(|e| e.to_string())?;
            file_sizes(copy.path())?
        };
        first_br += br;
        rows.push(row(
            [
                "size_first_file_1",
                "size_first_file_2",
                "size_first_file_3",
            ]
            .get(i)
            .copied()
            .unwrap_or("size_first_file_n"),
            &format!("{file}: raw / gzip / brotli"),
            kb(br),
            "KB br",
            "—",
            None,
            format!("{:.1} / {:.1} / {:.1} KB", kb(raw), kb(gz), kb(br)),
        ));
    }
    let inline_file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    std::fs::write(inline_file.path(), &inline).map_err(|e| e.to_string())?;
    let inline_br = compressed_len(inline_file.path(), "brotli", &["-q", "11", "-c"])?;
    rows.push(row(
        "size_inline_js",
        "Inline scripts of the page",
        kb(inline_br),
        "KB br",
        "—",
        None,
        format!("{:.1} KB raw", kb(inline.len() as u64)),
    ));
    let total = kb(first_br + inline_br);
    rows.push(row(
        "size_first_page_br",
        "wasm + JS for the first signed-in page, brotli",
        total,
        "KB",
        "≤ 120 KB",
        Some(total <= 120.0),
        format!("{} file(s) + inline scripts", first.len()),
    ));

    // Everything else the browser may load later (code-split chunks), precompressed copies aside.
    let mut rest_br = 0u64;
    let mut rest_files = 0;
    for entry in std::fs::read_dir(&pkg).map_err(|e| format!("{}: {e}", pkg.display()))? {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy().to_string();
        if (name.ends_with(".js") || name.ends_with(".wasm")) && !first.contains(&name) {
            rest_br += file_sizes(&pkg.join(&name))?.2;
            rest_files += 1;
        }
    }
    rows.push(row(
        "size_rest_br",
        "wasm + JS for the rest of the app, brotli",
        kb(rest_br),
        "KB",
        "—",
        None,
        format!("{rest_files} more file(s)"),
    ));

    let cookie = jar.cookie.clone().ok_or("no session cookie")?;
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
