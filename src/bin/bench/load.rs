//! Rows (1) and (2) over loopback with `wrk`: the profile page with a session against the same
//! page without the session check (memory and Redis stores), and against
//! express-openid-connect (`bench/peer`) on the same provider.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use signin::testing::TestApp;

use crate::{
    Opts,
    report::{Row, row},
    support::{
        Proc, Res, bench_app, free_port, median, remember_session, sign_in_over_http, wait_http,
    },
};

/// `wrk` for `secs` seconds; returns requests/second (non-2xx responses make it an error).
fn wrk(url: &str, cookie: Option<&str>, secs: u32, connections: u32) -> Res<f64> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{connections}"), &format!("-d{secs}s")]);
    if let Some(c) = cookie {
        cmd.args(["-H", &format!("Cookie: {c}")]);
    }
    let out = cmd
        .arg(url)
        .output()
        .map_err(|e| format!("wrk: {e} (scripts/bench installs it)"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") {
        return Err(format!("wrk saw errors for {url}:\n{text}"));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("cannot read wrk output:\n{text}"))
}

struct Redis {
    _proc: Proc,
    port: u16,
    _dir: tempfile::TempDir,
}

fn start_redis() -> Res<Redis> {
    let port = free_port();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server: {e}"))?;
    Ok(Redis {
        _proc: Proc(child),
        port,
        _dir: dir,
    })
}

/// Serves the app (with the bench-only unguarded twin routes) from this process on a real
/// socket, with the given store and a development provider of its own; returns its base URL.
pub async fn serve_in_process(store: &str) -> Res<(String, TestApp)> {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let app = bench_app(&[
        ("APP_URL", base.as_str()),
        ("SESSION_STORE", store),
        ("DEV_PROVIDER_PORT", &free_port().to_string()),
    ])
    .await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let router = app.router.clone();
    // a runtime of its own, so the server has its two workers as in production
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        if let Ok(rt) = rt {
            rt.block_on(async move {
                let std_listener = listener.into_std();
                if let Ok(l) = std_listener.and_then(tokio::net::TcpListener::from_std) {
                    let _ = axum::serve(l, router).await;
                }
            });
        }
    });
    wait_http(&format!("{base}/healthz"), Duration::from_secs(10)).await?;
    Ok((base, app))
}

pub async fn http_load(o: &Opts) -> Res<Vec<Row>> {
    // Alternating guarded/unguarded runs; the ratio is the median of the per-pair ratios, which
    // cancels most of the drift this shared machine shows from one run to the next.
    let secs = if o.quick { 1 } else { 6 };
    let rounds = if o.quick { 1 } else { 5 };
    let connections = 32;
    let redis = start_redis()?;
    let mut rows = Vec::new();
    let mut ours_memory = 0.0;
    let mut app_keep = None;
    for (label, store, goal) in [
        ("memory", "memory".to_string(), 0.95),
        ("redis", format!("redis://127.0.0.1:{}", redis.port), 0.85),
    ] {
        let (base, app) = serve_in_process(&store).await?;
        let jar = sign_in_over_http(&base, "/login").await?;
        let cookie = jar.header();
        remember_session(&app, &cookie).await?;
        // warm up
        wrk(&format!("{base}/profile"), Some(&cookie), 1, 4)?;
        wrk(&format!("{base}/__bench/unguarded/profile"), None, 1, 4)?;
        let (mut guarded, mut unguarded) = (vec![], vec![]);
        for _ in 0..rounds {
            guarded.push(wrk(
                &format!("{base}/profile"),
                Some(&cookie),
                secs,
                connections,
            )?);
            unguarded.push(wrk(
                &format!("{base}/__bench/unguarded/profile"),
                None,
                secs,
                connections,
            )?);
        }
        let mut ratios: Vec<f64> = guarded.iter().zip(&unguarded).map(|(g, u)| g / u).collect();
        let ratio = median(&mut ratios);
        let g = median(&mut guarded);
        let u = median(&mut unguarded);
        rows.push(row(
            "auth_overhead",
            &format!("Profile page req/s with session ÷ without session check ({label} store)"),
            ratio,
            "ratio",
            &format!("≥ {goal}"),
            Some(ratio >= goal),
            format!(
                "{g:.0} vs {u:.0} req/s (medians), wrk -c{connections} {secs}s, median ratio of {rounds} alternating pairs"
            ),
        ));
        if label == "memory" {
            ours_memory = g;
            app_keep = Some(app);
        }
    }

    // (2) the peer, against the same provider, same load
    let app = app_keep.as_ref().ok_or("no server")?;
    let provider = app.provider.as_ref().ok_or("no provider")?;
    let peer_port = free_port();
    let peer = Command::new("node")
        .arg(&o.peer)
        .env("PEER_PORT", peer_port.to_string())
        .env("PEER_ISSUER", &provider.issuer)
        .env("PEER_CLIENT_ID", &provider.client_id)
        .env("PEER_CLIENT_SECRET", provider.client_secret.expose())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("node: {e}"))?;
    let _peer = Proc(peer);
    let peer_base = format!("http://127.0.0.1:{peer_port}");
    wait_http(&format!("{peer_base}/healthz"), Duration::from_secs(20)).await?;
    let peer_jar = sign_in_over_http(&peer_base, "/login").await?;
    let peer_cookie = peer_jar.header();
    wrk(&format!("{peer_base}/profile"), Some(&peer_cookie), 1, 4)?;
    let mut theirs = vec![];
    for _ in 0..rounds {
        theirs.push(wrk(
            &format!("{peer_base}/profile"),
            Some(&peer_cookie),
            secs,
            connections,
        )?);
    }
    let t = median(&mut theirs);
    let ratio = ours_memory / t;
    rows.push(row(
        "peer_ratio",
        "Profile page req/s: this app ÷ express-openid-connect",
        ratio,
        "ratio",
        "≥ 5",
        Some(ratio >= 5.0),
        format!("{ours_memory:.0} vs {t:.0} req/s (memory store vs its encrypted-cookie session)"),
    ));
    drop(redis);
    Ok(rows)
}
