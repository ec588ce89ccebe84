//! Rows (7): growth — a session read with 1 000 and with 100 000 sessions in the store (SQLite,
//! Redis); ending one person's sessions with 1 and with 10 000 other people's sessions in the
//! store (an index lookup, not a scan); the server's memory for 1 000 idle live-session
//! connections; anonymous load (nothing stored, memory flat) — and (8) `/metrics`: the time
//! of one scrape. The server-process rows run the release binary with this process's
//! development provider.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use signin::{
    auth::{index::Who, session::SignedIn},
    testing::TestApp,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
};

use crate::{
    Opts,
    report::{Row, row},
    support::{
        Res, Server, bench_app, median, no_redirects, sign_in_in_process, sign_in_over_http,
        spawn_server, start_redis, stored_session,
    },
};

/// The signed-in record of `app`'s first demo user, to copy as filler.
async fn template(app: &TestApp) -> Res<(Record, SignedIn)> {
    let jar = sign_in_in_process(app).await?.jar;
    stored_session(app, jar.cookie.as_deref().unwrap_or_default()).await
}

/// Adds `n` signed-in sessions of other people (each its own `sub`, indexed), `in_flight` at
/// a time.
async fn fill(app: &TestApp, n: usize, from: usize) -> Res<Vec<Id>> {
    let (record, signed_in) = template(app).await?;
    let store = &app.state.keeper.store;
    let mut ids = Vec::with_capacity(n);
    let chunk = 64;
    for start in (from..from + n).step_by(chunk) {
        let batch = (start..(start + chunk).min(from + n)).map(|i| {
            let mut record = record.clone();
            let mut s = signed_in.clone();
            s.verified.user.sub = format!("filler-{i}");
            s.verified
                .claims
                .insert("sub".into(), format!("filler-{i}").into());
            s.verified.claims.remove("sid");
            s.verified.claims.remove("email");
            async move {
                record.id = Id::default();
                SessionStore::create(store, &mut record)
                    .await
                    .map_err(|e| e.to_string())?;
                let expiry = record.expiry_date;
                store
                    .save_signed_in(record.clone(), &s, expiry)
                    .await
                    .map_err(|e| e.to_string())?;
                let until = app.state.keeper.absolute_end(&s);
                signin::auth::index::add(store, &record.id, &s, until)
                    .await
                    .map_err(|e| e.to_string())?;
                Res::Ok(record.id)
            }
        });
        for id in futures::future::join_all(batch).await {
            ids.push(id?);
        }
    }
    Ok(ids)
}

/// Median µs of reading one of `ids` straight from the store (the read a request makes when
/// the session is not cached).
async fn read_cost(app: &TestApp, ids: &[Id], reads: usize) -> Res<f64> {
    let store = &app.state.keeper.store;
    let mut times = Vec::with_capacity(reads);
    for i in 0..reads {
        let id = ids[(i * 7919) % ids.len()];
        let t = Instant::now();
        store
            .load_signed_in(&id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("filler session missing")?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok(median(&mut times))
}

pub async fn store_growth(o: &Opts) -> Res<Vec<Row>> {
    let (small, large) = if o.quick {
        (100, 1_000)
    } else {
        (1_000, 100_000)
    };
    let redis = start_redis()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut rows = vec![];
    for (label, store) in [
        (
            "SQLite",
            format!("sqlite://{}", dir.path().join("growth.db").display()),
        ),
        ("Redis", format!("redis://127.0.0.1:{}", redis.port)),
    ] {
        let app = bench_app(&[("SESSION_STORE", store.as_str())]).await?;
        let mut ids = fill(&app, small, 0).await?;
        let reads = if o.quick { 50 } else { 2_000 };
        let at_small = read_cost(&app, &ids, reads).await?;
        ids.extend(fill(&app, large - small, small).await?);
        let at_large = read_cost(&app, &ids, reads).await?;
        let ratio = at_large / at_small;
        rows.push(row(
            "growth_read",
            &format!("Session read from the store at {large} ÷ at {small} sessions ({label})"),
            ratio,
            "ratio",
            "≤ 1.2",
            Some(ratio <= 1.2),
            format!(
                "{at_small:.1} vs {at_large:.1} µs per read (medians of {reads}); a request reads the store only when the session is not cached"
            ),
        ));

        // ending one person's sessions: 1 other person's session in the store vs 10 000
        let app = bench_app(&[("SESSION_STORE", store.as_str())]).await?;
        let others_large = if o.quick { 100 } else { 10_000 };
        let mut cost = vec![];
        for others in [1, others_large] {
            let _ = fill(&app, others, 1_000_000 + others).await?;
            let mut times = vec![];
            for _ in 0..if o.quick { 3 } else { 20 } {
                let jar = sign_in_in_process(&app).await?.jar;
                let (_, s) =
                    stored_session(&app, jar.cookie.as_deref().unwrap_or_default()).await?;
                let who = Who::Subject {
                    iss: s.verified.claims["iss"].as_str().unwrap_or_default().into(),
                    sub: s.verified.user.sub.clone(),
                };
                let t = Instant::now();
                let (ended, failed) = app.state.keeper.end_sessions_of(&who, |_| true).await;
                times.push(t.elapsed().as_secs_f64() * 1e6);
                if failed.is_some() || ended.is_empty() {
                    return Err("ending a person's sessions failed".into());
                }
            }
            cost.push(median(&mut times));
        }
        let ratio = cost[1] / cost[0];
        rows.push(row(
            "growth_end_person",
            &format!(
                "Ending one person's sessions with {others_large} ÷ with 1 other person's sessions in the store ({label})"
            ),
            ratio,
            "ratio",
            "≤ 1.5",
            Some(ratio <= 1.5),
            format!(
                "{:.0} vs {:.0} µs (medians): an index lookup, not a scan",
                cost[0], cost[1]
            ),
        ));
    }
    drop(redis);
    Ok(rows)
}

/// Resident memory of process `pid`, in KB.
fn rss_kb(pid: u32) -> Res<f64> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS".to_string())
}

async fn sessions_stored(s: &Server) -> Res<f64> {
    let text = no_redirects()
        .get(&s.metrics)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| l.strip_prefix("signin_sessions "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no signin_sessions in /metrics".to_string())
}

/// Opens the live channel with `cookie` on a raw connection and waits for its first event.
async fn open_channel(port: u16, cookie: &str) -> Res<tokio::net::TcpStream> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let req = format!(
        "GET /auth/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nCookie: {cookie}\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).await.map_err(|e| e.to_string())?;
    if !buf[..n].starts_with(b"HTTP/1.1 200") {
        return Err(format!(
            "live channel refused: {}",
            String::from_utf8_lossy(&buf[..n.min(40)])
        ));
    }
    Ok(s)
}

pub async fn server_memory(o: &Opts) -> Res<Vec<Row>> {
    let mut rows = vec![];
    // (a) 1 000 idle live-session channels, 32 per session
    let per_session: usize = 32;
    let channels: usize = if o.quick { 64 } else { 1_000 };
    let s = spawn_server(
        o,
        &[
            ("EVENTS_PER_SESSION", "32"),
            ("EVENTS_MAX_STREAMS", "1024"),
            ("EVENTS_HEARTBEAT_SECS", "15"),
        ],
    )
    .await?;
    let port: u16 = s
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or("no port")?;
    let mut cookies = vec![];
    for _ in 0..channels.div_ceil(per_session) {
        cookies.push(sign_in_over_http(&s.base, "/login").await?.header());
    }
    // one channel opened and closed first: what the first one allocates once is not per channel
    drop(open_channel(port, &cookies[0]).await?);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kb(s.pid)?;
    let mut open = Vec::with_capacity(channels);
    for i in 0..channels {
        open.push(open_channel(port, &cookies[i / per_session]).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kb(s.pid)?;
    let per = (after - before) / channels as f64;
    rows.push(row(
        "idle_channel_memory",
        &format!("Server memory per idle live-session connection ({channels} open)"),
        per,
        "KB",
        "≤ 64 KB",
        Some(per <= 64.0),
        format!(
            "resident memory {:.1} → {:.1} MB; each holds a connection, a stream and a subscription",
            before / 1024.0,
            after / 1024.0
        ),
    ));
    drop(open);
    drop(s);

    // (b) anonymous load: nothing stored, memory flat
    let s = spawn_server(o, &[]).await?;
    let secs = if o.quick { 1 } else { 10 };
    let home = format!("{}/", s.base);
    let warm = Command::new("wrk")
        .args(["-t2", "-c32", "-d1s", &home])
        .output();
    warm.map_err(|e| format!("wrk: {e}"))?;
    let before = rss_kb(s.pid)?;
    let out = Command::new("wrk")
        .args(["-t2", "-c32", &format!("-d{secs}s"), &home])
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let requests: f64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or(0.0);
    let after = rss_kb(s.pid)?;
    let stored = sessions_stored(&s).await?;
    let grew_mb = (after - before) / 1024.0;
    rows.push(row(
        "anonymous_load",
        "Anonymous load: sessions stored / resident memory growth",
        stored,
        "sessions",
        "= 0, growth ≤ 2 MB",
        Some(stored == 0.0 && grew_mb <= 2.0),
        format!(
            "{requests:.0} anonymous requests to / in {secs} s; memory {:.1} → {:.1} MB",
            before / 1024.0,
            after / 1024.0
        ),
    ));

    // (c) one /metrics scrape (the sessions counted, everything encoded)
    let http = no_redirects();
    let mut times = vec![];
    for _ in 0..if o.quick { 3 } else { 200 } {
        let t = Instant::now();
        http.get(&s.metrics)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let scrape = median(&mut times);
    rows.push(row(
        "metrics_scrape",
        "One /metrics scrape (round trip, memory store)",
        scrape,
        "µs",
        "—",
        None,
        "page requests record nothing: counters move on sign-in, refresh and sign-out only".into(),
    ));
    Ok(rows)
}
