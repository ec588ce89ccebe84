// The peer for the side-by-side benchmark: express-openid-connect (Auth0's Express library)
// serving the same protected profile page, signed in against the same provider as the Rust app.
//
// PEER_SETUP picks how it is set up:
// - `default`: its documented default session (an encrypted cookie holding the tokens);
// - `careful`: what a careful deployment uses — a server-side session store (the cookie holds
//   only a session id; here an in-process Map, the cheapest store Node can have, so the
//   comparison is with the peer at its fastest) and the access token refreshed on the
//   protected route when it has expired (its documented `accessToken.isExpired()` /
//   `refresh()`), as the Rust app does in its auth layer.
import express from 'express';
import eoc from 'express-openid-connect';

const { auth, requiresAuth } = eoc;
const port = Number(process.env.PEER_PORT);
const setup = process.env.PEER_SETUP || 'default';
const baseURL = `http://127.0.0.1:${port}`;

/** An express-session compatible store in a Map, honouring each session's expiry. */
class MapStore {
  constructor() {
    this.sessions = new Map();
  }
  get(sid, cb) {
    const s = this.sessions.get(sid);
    if (s && s.header.exp * 1000 <= Date.now()) {
      this.sessions.delete(sid);
      return cb(null, null);
    }
    cb(null, s ?? null);
  }
  set(sid, session, cb) {
    this.sessions.set(sid, session);
    cb?.();
  }
  destroy(sid, cb) {
    this.sessions.delete(sid);
    cb?.();
  }
}

const app = express();
app.use(
  auth({
    issuerBaseURL: process.env.PEER_ISSUER,
    baseURL,
    clientID: process.env.PEER_CLIENT_ID,
    clientSecret: process.env.PEER_CLIENT_SECRET,
    secret: 'a-long-random-secret-for-the-benchmark-peer-only-0123456789',
    authRequired: false,
    idpLogout: true,
    authorizationParams: {
      response_type: 'code',
      // `careful` keeps a refresh token, as the Rust app does
      scope: setup === 'careful' ? 'openid profile email offline_access' : 'openid profile email',
    },
    routes: { callback: '/authorization-code/callback' },
    ...(setup === 'careful' ? { session: { store: new MapStore() } } : {}),
  }),
);

const esc = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** `careful`: an expired access token is refreshed before the page is served. */
const refreshed =
  setup === 'careful'
    ? async (req, res, next) => {
        try {
          const token = req.oidc.accessToken;
          if (token && token.isExpired()) await token.refresh();
          next();
        } catch (e) {
          next(e);
        }
      }
    : (req, res, next) => next();

// The same content as the Rust app's /profile: name, email, subject and a table of claims.
app.get('/profile', requiresAuth(), refreshed, (req, res) => {
  const user = req.oidc.user;
  const claims = Object.entries(req.oidc.idTokenClaims)
    .filter(([k]) => !['nonce', 'at_hash', 'c_hash'].includes(k))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `<tr data-claim="${esc(k)}"><th><code>${esc(k)}</code></th><td>${esc(typeof v === 'string' ? v : JSON.stringify(v))}</td></tr>`)
    .join('');
  res.send(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Profile</title>
<link rel="stylesheet" href="/pkg/signin.css"></head><body><main class="container">
<section class="card profile"><h1 data-testid="profile-name">${esc(user.name)}</h1>
<p>${esc(user.email)}</p><dl><dt>Subject</dt><dd><code>${esc(user.sub)}</code></dd></dl></section>
<section class="card"><h2>Your claims</h2><table class="claims"><tbody>${claims}</tbody></table></section>
</main></body></html>`);
});
app.get('/healthz', (req, res) => res.send('ok'));

app.listen(port, '127.0.0.1', () => console.log(`peer (${setup}) listening on ${baseURL}`));
