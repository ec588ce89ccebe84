//! The benchmark: what sign-in costs, measured in one run on this machine, as ratios where
//! absolute figures drift. Run by `scripts/bench` (release) and, as a smoke check with
//! `--quick`, by `scripts/test` (debug; the figures then mean nothing, only that every row
//! still runs). Prints a table and writes it as JSON.
//!
//! Rows, one module each: (1) auth overhead over loopback (wrk) and (2) req/s against
//! express-openid-connect ([`load`]); (1) in-process per-request cost of the auth layer,
//! (3) server time per sign-in and outbound calls, (4) refresh bursts ([`in_process`]); (3b)
//! the server process's CPU per complete sign-in ([`process_cpu`]);
//! (5) sizes ([`sizes`]); (6) start-up time with the provider down ([`startup`]); (7) growth
//! and (8) the cost of a `/metrics` scrape ([`growth`]). The app is
//! built with the shared test support (`signin::testing`), composed with the bench-only
//! unguarded twin routes (`signin::server::app_for_bench`).

mod growth;
mod in_process;
mod load;
mod process_cpu;
mod report;
mod sizes;
mod startup;
mod support;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use support::Res;

// the same allocator as the app's server binary (src/main.rs)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub struct Opts {
    pub quick: bool,
    /// Only serve (signed in) and print how to reach it: for profiling by hand.
    pub serve: bool,
    pub server: PathBuf,
    pub site_root: PathBuf,
    pub out: PathBuf,
    pub peer: PathBuf,
    /// `--only load,sizes,…`: just these row groups (load, auth, sign_in, refresh, sizes,
    /// growth, startup).
    pub only: Option<Vec<String>>,
}

impl Opts {
    fn wants(&self, group: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|g| g == group))
    }
}

fn parse_args() -> Res<Opts> {
    let mut o = Opts {
        quick: false,
        serve: false,
        server: "target/release/signin".into(),
        site_root: "target/site".into(),
        out: "bench/results/latest.json".into(),
        peer: "bench/peer/server.mjs".into(),
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--serve" => o.serve = true,
            "--server" => o.server = value("--server")?.into(),
            "--site-root" => o.site_root = value("--site-root")?.into(),
            "--out" => o.out = value("--out")?.into(),
            "--peer" => o.peer = value("--peer")?.into(),
            "--only" => o.only = Some(value("--only")?.split(',').map(str::to_string).collect()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(o: &Opts) -> Res<()> {
    if o.serve {
        // for profiling by hand: BENCH_SERVE_STORE=redis://… picks another store
        let store = std::env::var("BENCH_SERVE_STORE").unwrap_or_else(|_| "memory".into());
        let (base, app) = load::serve_in_process(&store).await?;
        let jar = support::sign_in_over_http(&base, "/login").await?;
        support::remember_session(&app, &jar.header()).await?;
        println!("{base} {}", jar.header());
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return Ok(());
    }
    let mut rows = Vec::new();
    if o.wants("load") {
        eprintln!("== (1, 2) load over loopback: guarded vs unguarded profile page, and the peer");
        rows.extend(load::http_load(o).await?);
    }
    if o.wants("auth") {
        eprintln!("== (1) in-process cost of the auth layer");
        rows.push(in_process::auth_layer_cost(o).await?);
    }
    if o.wants("sign_in") {
        eprintln!("== (3) sign-in cost");
        rows.extend(in_process::sign_in_cost(o).await?);
        rows.extend(process_cpu::sign_in_cpu(o).await?);
    }
    if o.wants("refresh") {
        eprintln!("== (4) refresh burst");
        rows.extend(in_process::refresh_burst(o).await?);
    }
    if o.wants("sizes") {
        eprintln!("== (5) sizes");
        rows.extend(sizes::sizes(o).await?);
    }
    if o.wants("growth") {
        eprintln!("== (7) growth: store size, index, idle channels, anonymous load; (8) /metrics");
        rows.extend(growth::store_growth(o).await?);
        rows.extend(growth::server_memory(o).await?);
    }
    if o.wants("startup") {
        eprintln!("== (6) start-up");
        rows.push(startup::startup(o).await?);
    }
    report::print_table(&rows, o.quick);
    report::write_json(&rows, o)?;
    Ok(())
}
