//! Rows measured in-process, through `oneshot` on the router: (1) the per-request cost of the
//! session and auth layers, (3) server time and outbound calls per sign-in, (4) a burst of
//! concurrent requests on an expired access token (single-flight refresh).

use std::time::{Duration, Instant};

use axum::http::{Request, StatusCode};
use signin::testing::{Jar, TestApp, page};

use crate::{
    Opts,
    report::{Row, row},
    support::{
        Res, bench_app, median, percentile, remember_session, sign_in_in_process, start_redis,
    },
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
        "≤ 1 µs",
        Some(cost <= 1.0),
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

/// 100 concurrent requests on an expired access token, for each access-token lifetime (2 s:
/// waited for; 300 s: the stored expiry moved back) on one instance, and split over two
/// instances sharing one Redis: how many refresh calls reach the provider (goal: one), and how
/// many requests fail (goal: none).
pub async fn refresh_burst(_o: &Opts) -> Res<Vec<Row>> {
    let redis = start_redis()?;
    let redis_url = format!("redis://127.0.0.1:{}", redis.port);
    let mut rows = vec![];
    for ttl in [2u64, 300] {
        for two in [false, true] {
            let ttl_s = ttl.to_string();
            let mut env = vec![
                ("DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS", ttl_s.as_str()),
                ("AUTH_REFRESH_MARGIN_SECS", "0"),
                ("AUTH_ROTATION_GRACE_SECS", "0"),
            ];
            if two {
                env.push(("SESSION_STORE", redis_url.as_str()));
            }
            let a = bench_app(&env).await?;
            let b = if two {
                // the second instance: the same settings (store, provider), its own process
                // state (locks, caches)
                Some(
                    TestApp::builder()
                        .prod_rendering()
                        .settings((*a.state.settings).clone(), None)
                        .build()
                        .await?,
                )
            } else {
                None
            };
            let provider = a.provider.as_ref().ok_or("no provider")?;
            let jar = sign_in_in_process(&a).await?.jar;
            if ttl <= 2 {
                tokio::time::sleep(Duration::from_millis(ttl * 1000 + 100)).await;
            } else {
                a.age_access_token(&jar, Duration::from_secs(ttl + 1))
                    .await?;
            }
            let before = provider.stats().refresh_calls;
            let instances: Vec<&TestApp> = std::iter::once(&a).chain(b.as_ref()).collect();
            let n = 100;
            let requests = (0..n).map(|i| {
                let mut jar = jar.clone();
                let app = instances[i % instances.len()];
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
            let case = if two {
                format!("{ttl} s tokens, two instances on one Redis")
            } else {
                format!("{ttl} s tokens, one instance")
            };
            let id = match (ttl, two) {
                (2, false) => "refresh_calls_2s",
                (2, true) => "refresh_calls_2s_two",
                (_, false) => "refresh_calls_300s",
                (_, true) => "refresh_calls_300s_two",
            };
            rows.push(row(
                id,
                &format!("Refresh calls for 100 concurrent requests on an expired token ({case})"),
                calls as f64,
                "calls",
                "= 1, no request failed",
                Some(calls == 1 && failed == 0),
                format!("{failed} of the 100 requests failed; rotation grace 0"),
            ));
        }
    }
    drop(redis);
    Ok(rows)
}
