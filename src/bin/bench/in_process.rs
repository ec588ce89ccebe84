//! Rows measured in-process, through `oneshot` on the router: (1) the per-request cost of the
//! session and auth layers, (3) server time and outbound calls per sign-in, (4) a burst of
//! concurrent requests on an expired access token (single-flight refresh).

use std::time::{Duration, Instant};

use axum::http::{Request, StatusCode};
use signin::testing::{Jar, page};

use crate::{
    Opts,
    report::{Row, row},
    support::{Res, bench_app, median, percentile, remember_session, sign_in_in_process},
};

pub async fn auth_layer_cost(o: &Opts) -> Res<Row> {
    let app = bench_app(&[]).await?;
    let mut jar = sign_in_in_process(&app).await?.jar;
    remember_session(&app, jar.cookie.as_deref().unwrap_or_default()).await?;
    let (guarded_path, unguarded_path) = ("/__bench/noop", "/__bench/unguarded/__bench/noop");
    let status = app
        .request(&mut jar, Request::get(guarded_path))
        .await?
        .status;
    if status != StatusCode::NO_CONTENT {
        return Err(format!("noop answered {status}"));
    }
    let mut no_cookie = Jar::default();
    let n = if o.quick { 200 } else { 20_000 };
    let blocks = if o.quick { 2 } else { 10 };
    let (mut a, mut b) = (vec![], vec![]);
    for _ in 0..blocks {
        let t = Instant::now();
        for _ in 0..n {
            app.request(&mut jar, Request::get(guarded_path)).await?;
        }
        a.push(t.elapsed().as_secs_f64() * 1e9 / n as f64);
        let t = Instant::now();
        for _ in 0..n {
            app.request(&mut no_cookie, Request::get(unguarded_path))
                .await?;
        }
        b.push(t.elapsed().as_secs_f64() * 1e9 / n as f64);
    }
    let (ga, ub) = (median(&mut a), median(&mut b));
    let cost = (ga - ub).max(0.0) / 1000.0;
    Ok(row(
        "auth_layer_cpu",
        "In-process cost of session + auth layer per request (memory store)",
        cost,
        "µs",
        "≤ 2 µs",
        Some(cost <= 2.0),
        format!(
            "{:.2} µs vs {:.2} µs per oneshot, median of {blocks}×{n}",
            ga / 1000.0,
            ub / 1000.0
        ),
    ))
}

pub async fn sign_in_cost(o: &Opts) -> Res<Vec<Row>> {
    let app = bench_app(&[]).await?;
    sign_in_in_process(&app).await?; // discovery and JWKS fetched and cached here
    let n = if o.quick { 5 } else { 1000 };
    let (mut times, mut tokens, mut outbound) = (vec![], 0, 0);
    for _ in 0..n {
        let s = sign_in_in_process(&app).await?;
        times.push(s.server_us);
        tokens += s.token_calls;
        outbound += s.outbound_calls;
    }
    let p50 = percentile(&mut times, 0.5);
    let p99 = percentile(&mut times, 0.99);
    let per_token = tokens as f64 / n as f64;
    let per_out = outbound as f64 / n as f64;
    Ok(vec![
        row(
            "signin_p50",
            "Server time per sign-in (login + callback, provider time excluded), p50",
            p50,
            "µs",
            "—",
            None,
            format!("{n} sign-ins"),
        ),
        row(
            "signin_p99",
            "Server time per sign-in, p99",
            p99,
            "µs",
            "≤ 500 µs",
            Some(p99 <= 500.0),
            format!("{n} sign-ins; RS256 verification included"),
        ),
        row(
            "signin_token_calls",
            "Token calls per sign-in (discovery and JWKS cached)",
            per_token,
            "calls",
            "= 1",
            Some((per_token - 1.0).abs() < f64::EPSILON),
            format!("{per_out:.1} outbound calls in all (PAR + token + userinfo)"),
        ),
    ])
}

pub async fn refresh_burst(_o: &Opts) -> Res<Vec<Row>> {
    let app = bench_app(&[
        ("DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS", "2"),
        ("AUTH_REFRESH_MARGIN_SECS", "0"),
    ])
    .await?;
    let provider = app.provider.as_ref().ok_or("no provider")?;
    let jar = sign_in_in_process(&app).await?.jar;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before = provider.stats().refresh_calls;
    let n = 100;
    let requests = (0..n).map(|_| {
        let mut jar = jar.clone();
        let app = &app;
        async move {
            app.request(&mut jar, page("/profile"))
                .await
                .map(|r| r.status)
        }
    });
    let results = futures::future::join_all(requests).await;
    let failed = results
        .iter()
        .filter(|r| !matches!(r, Ok(StatusCode::OK)))
        .count();
    let calls = provider.stats().refresh_calls - before;
    Ok(vec![
        row(
            "refresh_calls",
            "Refresh calls at the provider for 100 concurrent requests on an expired token",
            calls as f64,
            "calls",
            "= 1",
            Some(calls == 1),
            String::new(),
        ),
        row(
            "refresh_failures",
            "Requests that failed in that burst",
            failed as f64,
            "requests",
            "= 0",
            Some(failed == 0),
            String::new(),
        ),
    ])
}
