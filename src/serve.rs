//! Serves the app on a listener: HTTP/1.1 with `hyper`, each request told the address it came
//! from (`ConnectInfo`, for the rate limits), a connection that does not send a request's
//! headers within `LIMITS_HEADER_TIMEOUT_SECS` closed (the timer runs from the first read, so
//! it also ends connections that send nothing, or idle between requests), at most
//! `LIMITS_MAX_CONNECTIONS` connections at once, and a graceful stop.
//!
//! Written here rather than with `axum::serve` because that one sets no timer on hyper's
//! connection builder, and without a timer hyper applies no header-read timeout: a client
//! trickling its headers would hold a connection (and its task) for as long as it liked.
//! HTTP/1.1 only: the app sits behind a TLS-terminating proxy in production, and hyper's
//! protocol detection for cleartext HTTP/2 runs before any timer could start.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt;

/// How long open connections get to finish after the stop signal.
const DRAIN: Duration = Duration::from_secs(10);

/// How the accept loop bounds its connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `stop` completes, then drains open connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let slots = std::sync::Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut stop = std::pin::pin!(stop);
    loop {
        // a free slot first: beyond the limit, new connections wait in the listen backlog
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break, // the semaphore is never closed
            },
            () = &mut stop => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // out of file descriptors and the like: wait, do not spin or stop serving
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let router = router.clone();
        let service = TowerToHyperService::new(router.map_request(
            move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(remote));
                req.map(axum::body::Body::new)
            },
        ));
        let watcher = graceful.watcher();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN:?}; stopping anyway");
    }
    Ok(())
}
