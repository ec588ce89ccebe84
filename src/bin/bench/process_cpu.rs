//! Row (3b): CPU of the whole server process per complete sign-in — `/login`, the callback and
//! the first protected page — read from `/proc` (utime + stime of every thread), with the
//! provider in another process (this one's development provider), and where it goes: each
//! step's share, from the threads' scheduler run times (`/proc/<pid>/task/*/schedstat`,
//! nanoseconds).

use crate::{
    Opts,
    report::{Row, row},
    support::{Cookies, Res, location, no_redirects, spawn_server},
};

/// utime + stime of process `pid`, in seconds (clock ticks of 10 ms).
fn process_cpu(pid: u32) -> Res<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // the command name (field 2) is in parentheses and may hold spaces: count after it
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields 14 and 15 of the whole line are the 12th and 13th after the name
    let tick = |i: usize| -> Res<f64> {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| "unreadable /proc stat".to_string())
    };
    // CLK_TCK is 100 on Linux
    Ok((tick(11)? + tick(12)?) / 100.0)
}

/// Time on a CPU of every thread of `pid`, in nanoseconds.
fn run_nanos(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

pub async fn sign_in_cpu(o: &Opts) -> Res<Vec<Row>> {
    // the release server in its own process, the provider in this one
    let server = spawn_server(o, &[]).await?;
    let (pid, base) = (server.pid, server.base.clone());
    let http = no_redirects();

    // one complete sign-in; the time each of the server's steps took on its CPUs
    let sign_in = async || {
        let mut jar = Cookies::default();
        let t0 = run_nanos(pid);
        let r = http
            .get(format!("{base}/login"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let t1 = run_nanos(pid);
        jar.absorb(r.headers());
        let back =
            signin::testing::complete_sign_in(&http, &location(&r)?, &[("user", "0")]).await?;
        let t2 = run_nanos(pid);
        let r = http
            .get(&back)
            .header("cookie", jar.header())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let t3 = run_nanos(pid);
        if location(&r)? != "/profile" {
            return Err(format!("the callback answered {}", r.status()));
        }
        jar.absorb(r.headers());
        let r = http
            .get(format!("{base}/profile"))
            .header("cookie", jar.header())
            .header("accept", "text/html")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        r.bytes().await.map_err(|e| e.to_string())?;
        let t4 = run_nanos(pid);
        if status != reqwest::StatusCode::OK {
            return Err(format!("the profile page answered {status}"));
        }
        // (t1..t2 is the provider's part: the app is idle then)
        Res::Ok([t1 - t0, t3 - t2, t4 - t3, t2 - t1])
    };
    // warm up: discovery, keys, connections
    for _ in 0..3 {
        sign_in().await?;
    }
    let n = if o.quick { 3 } else { 500 };
    let mut steps = [0u64; 4];
    let before = process_cpu(pid)?;
    let idle_before = run_nanos(pid);
    for _ in 0..n {
        let s = sign_in().await?;
        for (acc, v) in steps.iter_mut().zip(s) {
            *acc += v;
        }
    }
    let cpu_ms = (process_cpu(pid)? - before) * 1000.0 / n as f64;
    let total_ns = run_nanos(pid) - idle_before;
    let per = |ns: u64| ns as f64 / n as f64 / 1000.0;
    let [login, callback, page, while_at_provider] = steps;
    let other = total_ns.saturating_sub(login + callback + page + while_at_provider);
    Ok(vec![row(
        "signin_process_cpu",
        "Server process CPU per complete sign-in (login, callback, first page; utime+stime, provider in another process)",
        cpu_ms,
        "ms",
        "≤ 0.5 ms",
        Some(cpu_ms <= 0.5),
        format!(
            "{n} sign-ins; per sign-in, threads' run time: /login {:.0} µs, callback {:.0} µs, first /profile {:.0} µs, while at the provider {:.0} µs, between requests {:.0} µs",
            per(login),
            per(callback),
            per(page),
            per(while_at_provider),
            per(other),
        ),
    )])
}
