//! Islands rendering (issue 13): what the server sends so that only islands hydrate, the
//! islands router's client-side navigations (a `fetch` with the `Islands-Router` header)
//! never meet a cross-origin redirect, and sign-out leaves the app as a plain form.

use axum::{body::Body, http::StatusCode};
use signin::testing::page;

use crate::common::{Harness, Jar, Resp};

/// A client-side navigation by the islands router.
async fn navigate(h: &Harness, jar: &mut Jar, path: &str) -> Resp {
    h.send(
        jar,
        page(path).header("islands-router", "true"),
        Body::empty(),
    )
    .await
}

/// Where the page loads Leptos' islands loader from.
fn loader_src(body: &str) -> String {
    body.split("<script type=\"module\" src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no loader script: {body}"))
        .to_string()
}

fn island(body: &str, name: &str) -> bool {
    body.contains(&format!("<leptos-island data-component=\"{name}_"))
}

/// A signed-out client-side navigation to a protected page gets the page with the island that
/// loads `/login` in the browser (a fetch cannot follow the provider's redirect); a page load
/// still gets the plain 302.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn navigation_to_a_protected_page_leaves_for_sign_in_from_the_browser() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    let r = navigate(&h, &mut jar, "/reports?tab=week").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.location(), None);
    assert!(island(&r.body, "LeaveForSignIn"), "{}", r.body);
    assert!(r.body.contains("/login?return_to=/reports%3Ftab%3Dweek"));
    assert!(!r.body.contains("data-testid=\"reports\""));
    assert_eq!(r.header("cache-control"), "no-store", "never reused");
    // a page a browser may keep (and revalidate) says that it depends on the header
    let about = navigate(&h, &mut jar, "/about").await;
    assert_eq!(about.header("cache-control"), "no-cache, private");
    assert!(
        about.header("vary").contains("Islands-Router"),
        "{:?}",
        about.headers
    );

    let r = h.get(&mut jar, "/reports?tab=week").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), Some("/login?return_to=/reports%3Ftab%3Dweek"));
    assert_eq!(r.header("cache-control"), "no-store");
}

/// With sign-in required everywhere, a signed-out client-side navigation to *every* page that
/// is not public gets the leave page: a page added without its guard fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_non_public_page_guards_client_side_navigation() {
    let h = Harness::dev(&[("AUTH_REQUIRE_AUTH_EVERYWHERE", "true")]).await;
    let mut jar = Jar::default();
    let pages = signin::server::page_paths();
    assert!(pages.len() >= 4, "{pages:?}");
    let mut checked = 0;
    for path in pages {
        if h.state.guard_policy().is_public(&path) {
            continue;
        }
        let r = navigate(&h, &mut jar, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(island(&r.body, "LeaveForSignIn"), "{path}: {}", r.body);
        checked += 1;
    }
    assert!(checked >= 3, "profile, reports, about");
}

/// With sign-in required everywhere, the middleware leaves a navigation to a *page* to the
/// page's guard (same answer as above) and still redirects anything else, header or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_everywhere_navigation_is_left_to_the_page_guard_only_for_pages() {
    let h = Harness::dev(&[("AUTH_REQUIRE_AUTH_EVERYWHERE", "true")]).await;
    let mut jar = Jar::default();
    let r = navigate(&h, &mut jar, "/about").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(island(&r.body, "LeaveForSignIn"), "{}", r.body);
    assert!(r.body.contains("/login?return_to=/about"));
    assert!(
        !r.body.contains("About this app"),
        "the page itself is not shown"
    );

    for path in ["/not-a-page", "/signin.css"] {
        let r = navigate(&h, &mut jar, path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            r.location().unwrap().starts_with("/login?return_to="),
            "{path}"
        );
    }
    let r = h
        .send(
            &mut jar,
            axum::http::Request::head("/about").header("islands-router", "true"),
            Body::empty(),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "only GET is left to the page"
    );
}

/// Signed in: the pages carry the island script (not full hydration), the profile's island
/// gets the profile as its props (claims, no token), the reports page only its toggle, and the
/// sign-out form is a plain POST marked to leave the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_pages_hydrate_only_their_islands() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;

    let profile = h.get(&mut jar, "/profile").await;
    assert_eq!(profile.status, StatusCode::OK);
    assert!(island(&profile.body, "ProfileLive"));
    assert!(profile.body.contains("data-props="));
    let loader = h.get(&mut jar, &loader_src(&profile.body)).await;
    assert!(
        loader.body.contains("__hydrateIsland"),
        "the island loader and the islands router"
    );
    assert!(profile.body.contains("data-claim=\"email\""));
    let stored = h.stored(&jar).await.expect("signed in");
    assert!(
        !profile
            .body
            .contains(stored.verified.tokens.access_token.expose())
    );
    let form = profile
        .body
        .split("<form")
        .nth(1)
        .and_then(|f| f.split('>').next())
        .expect("the sign-out form");
    for attr in ["method=\"post\"", "action=\"/logout\"", "data-leave"] {
        assert!(form.contains(attr), "{attr} in <form{form}>");
    }
    assert!(
        profile.body.contains("form[data-leave]"),
        "the leave script"
    );

    let reports = navigate(&h, &mut jar, "/reports").await;
    assert_eq!(reports.status, StatusCode::OK);
    assert!(reports.body.contains("data-testid=\"reports\""));
    assert!(island(&reports.body, "DetailsToggle"));
    assert!(!island(&reports.body, "ProfileLive"));

    assert!(
        island(&profile.body, "SessionLive"),
        "the live session channel"
    );
    assert!(island(&reports.body, "SessionLive"));
    let home = h.get(&mut jar, "/").await;
    assert_eq!(
        home.body.matches("<leptos-island").count(),
        2,
        "a signed-in home page has two islands: the live session channel's and the greeting"
    );
    assert!(island(&home.body, "SessionLive"));
    assert!(island(&home.body, "Greeting"));
    assert!(home.body.contains("data-testid=\"greeting\""));
    assert!(
        home.body.contains("Welcome back, Ada Lovelace!"),
        "{}",
        home.body
    );
    let signed_out = h.get(&mut Jar::default(), "/").await;
    assert!(
        !signed_out.body.contains("<leptos-island"),
        "a signed-out page has no island"
    );
}

/// The navigation bar carries the signed-in person for the islands' `use_user()` — display
/// claims only, escaped like any attribute (a name is whatever the provider says).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_navigation_bar_carries_the_person_for_islands() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    let r =
        h.0.sign_in_as(
            &mut jar,
            None,
            &[("email", "o\"><img src=x onerror=alert(1)>@example.com")],
        )
        .await
        .unwrap();
    assert!(r.status.is_redirection(), "{}", r.status);
    let home = h.get(&mut jar, "/").await;
    let at = home
        .body
        .find("class=\"signed-in\"")
        .unwrap_or_else(|| panic!("the signed-in part of the bar: {}", home.body));
    let start = home.body[..at].rfind("<span").unwrap();
    let bar = &home.body[start..at + home.body[at..].find('>').unwrap()];
    let stored = h.stored(&jar).await.unwrap();
    assert!(
        bar.contains(&format!("data-sub=\"{}\"", stored.verified.user.sub)),
        "{bar}"
    );
    assert!(bar.contains("data-email=\"o&quot;&gt;&lt;img"), "{bar}");
    assert!(!home.body.contains("<img src=x"), "escaped");
    assert!(
        !bar.contains(stored.verified.tokens.access_token.expose()),
        "display claims only"
    );
}

/// With sign-in required everywhere and the provider down when a refresh is due, a
/// client-side navigation gets the app's page with the error notice (something the islands
/// router can show), a page load the middleware's short error page; both 503, session kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_everywhere_navigation_shows_an_unavailable_provider_in_the_page() {
    let h = Harness::dev(&[
        ("AUTH_REQUIRE_AUTH_EVERYWHERE", "true"),
        ("DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS", "2"),
        ("AUTH_REFRESH_MARGIN_SECS", "1"),
    ])
    .await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    h.provider().stop();
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;

    let r = navigate(&h, &mut jar, "/about").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.body.contains("cannot be reached"), "{}", r.body);
    assert!(
        r.body.contains("class=\"nav\""),
        "the whole app page: {}",
        r.body
    );
    let r = h.get(&mut jar, "/about").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!r.body.contains("class=\"nav\""));
    assert!(h.stored(&jar).await.is_some(), "the session is not lost");
}

/// Leptos' islands loader (about 13 KB) is not written into every page: pages load it from
/// one immutable file under `/pkg/`, with the response's nonce, and keep only small inline
/// scripts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_islands_loader_is_a_cached_file_not_inline() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    let page = h.get(&mut jar, "/about").await;
    assert_eq!(page.status, StatusCode::OK);
    let src = loader_src(&page.body);
    assert!(
        src.starts_with("/pkg/boot.") && src.ends_with(".js"),
        "{src}"
    );
    for inline in page.body.split("<script").skip(1) {
        let (attrs, rest) = inline.split_once('>').unwrap();
        if !attrs.contains("src=") {
            let text = rest.split("</script>").next().unwrap();
            assert!(
                text.len() < 1_000,
                "an inline script of {} bytes",
                text.len()
            );
        }
    }

    let loader = h.get(&mut jar, &src).await;
    assert_eq!(loader.status, StatusCode::OK);
    assert!(loader.header("content-type").starts_with("text/javascript"));
    assert_eq!(
        loader.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(loader.body.contains("leptos-island"), "{}", loader.body);
    // the same file for every page and every person
    let again = h.get(&mut Jar::default(), "/").await;
    assert!(again.body.contains(&format!("src=\"{src}\"")));
}

/// A file under `/pkg/` this version does not have (asked for by a page of another version
/// during a rolling deploy) is not kept by caches: only what exists is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_pkg_file_is_not_cached() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    let missing = h.get(&mut jar, "/pkg/boot.0000000000000000.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("cache-control"), "no-store");
    let src = loader_src(&h.get(&mut jar, "/").await.body);
    let loader = h.get(&mut jar, &src).await;
    assert_eq!(
        loader.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
}
