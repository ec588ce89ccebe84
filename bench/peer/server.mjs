// The peer for the side-by-side benchmark: express-openid-connect (Auth0's Express library)
// serving the same protected profile page, with its documented default session store (an
// encrypted cookie). Signed in against the same provider as the Rust app.
import express from 'express';
import eoc from 'express-openid-connect';

const { auth, requiresAuth } = eoc;
const port = Number(process.env.PEER_PORT);
const baseURL = `http://127.0.0.1:${port}`;

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
    authorizationParams: { response_type: 'code', scope: 'openid profile email' },
    routes: { callback: '/authorization-code/callback' },
  }),
);

const esc = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

// The same content as the Rust app's /profile: name, email, subject and a table of claims.
app.get('/profile', requiresAuth(), (req, res) => {
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

app.listen(port, '127.0.0.1', () => console.log(`peer listening on ${baseURL}`));
