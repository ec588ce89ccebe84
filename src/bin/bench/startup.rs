//! Row (6): process start to the first 200 on `/healthz`, with the provider down (the server
//! must not wait for discovery).

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    Opts,
    report::{Row, row},
    support::{Proc, Res, free_ports, median},
};

pub async fn startup(o: &Opts) -> Res<Row> {
    let runs = if o.quick { 1 } else { 7 };
    let mut times = vec![];
    for _ in 0..runs {
        // nothing listens on `closed`: the provider is down
        let [port, closed] = free_ports::<2>();
        let t = Instant::now();
        let child = Command::new(&o.server)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_SITE_ROOT", &o.site_root)
            .env("OIDC_ISSUER", format!("http://127.0.0.1:{closed}"))
            .env("OIDC_CLIENT_ID", "bench")
            .env("OIDC_CLIENT_SECRET", "bench")
            .env("SESSION_STORE", "memory")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", o.server.display()))?;
        let _p = Proc(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if healthz(port).await {
                break;
            }
            if Instant::now() > deadline {
                return Err("the server did not answer /healthz".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let ms = median(&mut times);
    Ok(row(
        "startup",
        "Process start → first 200 on /healthz, provider down",
        ms,
        "ms",
        "≤ 200 ms",
        Some(ms <= 200.0),
        format!("median of {runs}"),
    ))
}

async fn healthz(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf).await, Ok(n) if n >= 12 && &buf[9..12] == b"200")
}
