//! The paths other tools and providers rely on (contracts: do not rename), and the ones that
//! are public whatever the settings say. Shared by server and browser.

/// Where the provider sends the browser back (Okta's default sign-in redirect URI path).
pub const DEFAULT_CALLBACK_PATH: &str = "/authorization-code/callback";

/// OpenID Connect Back-Channel Logout (the provider calls it server-to-server).
pub const BACKCHANNEL_LOGOUT_PATH: &str = "/backchannel-logout";

/// Okta Universal Logout (Global Token Revocation; the org calls it server-to-server).
pub const GLOBAL_TOKEN_REVOCATION_PATH: &str = "/global-token-revocation";

/// The live session channel (Server-Sent Events) the open tabs of a signed-in person listen to.
pub const EVENTS_PATH: &str = "/auth/events";

/// With several providers: the page where a person chooses one (`/login` sends them there).
pub const SIGN_IN_CHOOSER_PATH: &str = "/auth/sign-in";

/// Routes that are public whatever the settings say: requiring sign-in for the way to sign in
/// (or out, or for the page explaining why sign-in failed) would send people in circles. The
/// configured callback path is added to these where the guard policy is built.
pub const ALWAYS_PUBLIC: [&str; 5] = [
    "/login",
    DEFAULT_CALLBACK_PATH,
    "/logout",
    "/auth/error",
    SIGN_IN_CHOOSER_PATH,
];
