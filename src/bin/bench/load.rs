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
        Proc, Res, bench_app, free_port, free_ports, median, remember_session, sign_in_over_http,
        start_redis, wait_http,
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

/// Serves the app (with the bench-only unguarded twin routes) from this process on a real
/// socket, with the given store and a development provider of its own; returns its base URL.
pub async fn serve_in_process(store: &str) -> Res<(String, TestApp)> {
    let [port, provider_port] = free_ports::<2>();
    let base = format!("http://127.0.0.1:{port}");
    let app = bench_app(&[
        ("APP_URL", base.as_str()),
        ("SESSION_STORE", store),
        ("DEV_PROVIDER_PORT", &provider_port.to_string()),
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

/// The peer's two set-ups (`bench/peer/server.mjs`, `PEER_SETUP`).
const PEER_SETUPS: [&str; 2] = ["default", "careful"];

/// A running peer, signed in.
struct Peer {
    _proc: Proc,
    base: String,
    cookie: String,
}

/// Starts the peer in `setup` against `app`'s provider and signs in there.
async fn start_peer(o: &Opts, app: &TestApp, setup: &str) -> Res<Peer> {
    let provider = app.provider.as_ref().ok_or("no provider")?;
    let port = free_port();
    let child = Command::new("node")
        .arg(&o.peer)
        .env("PEER_PORT", port.to_string())
        .env("PEER_SETUP", setup)
        .env("PEER_ISSUER", &provider.issuer)
        .env("PEER_CLIENT_ID", &provider.client_id)
        .env("PEER_CLIENT_SECRET", provider.client_secret.expose())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("node: {e}"))?;
    let proc = Proc(child);
    let base = format!("http://127.0.0.1:{port}");
    wait_http(&format!("{base}/healthz"), Duration::from_secs(20)).await?;
    let cookie = sign_in_over_http(&base, "/login").await?.header();
    wrk(&format!("{base}/profile"), Some(&cookie), 1, 4)?; // warm up
    Ok(Peer {
        _proc: proc,
        base,
        cookie,
    })
}

pub async fn http_load(o: &Opts) -> Res<Vec<Row>> {
    // Alternating guarded/unguarded runs; the ratio is the median of the per-pair ratios, which
    // cancels most of the drift this shared machine shows from one run to the next.
    let secs = if o.quick { 1 } else { 6 };
    let rounds = if o.quick { 1 } else { 5 };
    let connections = 32;
    let redis = start_redis()?;
    let mut rows = Vec::new();
    let (mut ours_base, mut ours_cookie, mut app_keep) = (None, None, None);
    let sqlite_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let sqlite = format!(
        "sqlite://{}",
        sqlite_dir.path().join("sessions.db").display()
    );
    for (label, store, goal) in [
        ("memory", "memory".to_string(), 0.95),
        ("sqlite", sqlite, 0.95),
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
            ours_base = Some(base);
            ours_cookie = Some(cookie);
            app_keep = Some(app);
        }
    }

    // (2) the peer in both set-ups, against the same provider, same load; all three servers
    // up, runs interleaved (ours, default, careful) and the ratio the median of the per-round
    // ratios
    let app = app_keep.as_ref().ok_or("no server")?;
    let ours_base = ours_base.ok_or("no server")?;
    let ours_cookie = ours_cookie.ok_or("no server")?;
    let mut peers = vec![];
    for setup in PEER_SETUPS {
        peers.push(start_peer(o, app, setup).await?);
    }
    let mut ours = vec![];
    let mut theirs: Vec<Vec<f64>> = vec![vec![]; peers.len()];
    for _ in 0..rounds {
        ours.push(wrk(
            &format!("{ours_base}/profile"),
            Some(&ours_cookie),
            secs,
            connections,
        )?);
        for (i, peer) in peers.iter().enumerate() {
            theirs[i].push(wrk(
                &format!("{}/profile", peer.base),
                Some(&peer.cookie),
                secs,
                connections,
            )?);
        }
    }
    for (i, setup) in PEER_SETUPS.iter().enumerate() {
        let mut ratios: Vec<f64> = ours.iter().zip(&theirs[i]).map(|(a, b)| a / b).collect();
        let ratio = median(&mut ratios);
        let (a, b) = (median(&mut ours.clone()), median(&mut theirs[i].clone()));
        let (id, what) = match *setup {
            "careful" => (
                "peer_ratio_careful",
                "server-side session store, refresh on the route",
            ),
            _ => ("peer_ratio_default", "its default encrypted-cookie session"),
        };
        rows.push(row(
            id,
            &format!("Profile page req/s: this app ÷ express-openid-connect ({setup} set-up)"),
            ratio,
            "ratio",
            "≥ 5",
            Some(ratio >= 5.0),
            format!(
                "{a:.0} vs {b:.0} req/s (medians; ours with the memory store, the peer with {what}), median ratio of {rounds} interleaved rounds"
            ),
        ));
    }
    drop(redis);
    Ok(rows)
}
