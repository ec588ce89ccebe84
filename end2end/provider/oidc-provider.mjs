// An independent, OpenID Certified provider for the end-to-end tests: node-oidc-provider with
// one confidential client for the app. Started by Playwright (see playwright.config.ts).
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.env.OP_PORT);
const appUrl = process.env.APP_URL;
if (!port || !appUrl) {
  console.error('OP_PORT and APP_URL are required');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

// What both clients share: the app's addresses and grants.
const app = {
  redirect_uris: [`${appUrl}/authorization-code/callback`],
  post_logout_redirect_uris: [`${appUrl}/`],
  // OpenID Connect Back-Channel Logout: the provider tells the app when a session ends
  // (by address: Node may resolve localhost to ::1, where the app does not listen)
  backchannel_logout_uri: `${appUrl.replace('//localhost:', '//127.0.0.1:')}/backchannel-logout`,
  backchannel_logout_session_required: true,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
};
const clients = [
  // a client secret (signin doctor's tests)
  {
    ...app,
    client_id: process.env.OP_CLIENT_ID ?? 'signin-e2e',
    client_secret: process.env.OP_CLIENT_SECRET ?? 'e2e-secret-not-for-production',
    token_endpoint_auth_method: 'client_secret_basic',
  },
];
// the two-provider app (the sign-in chooser), with a secret
if (process.env.OP_MULTI_APP_URL) {
  const multi = process.env.OP_MULTI_APP_URL;
  clients.push({
    ...app,
    redirect_uris: [`${multi}/authorization-code/callback`],
    post_logout_redirect_uris: [`${multi}/`],
    backchannel_logout_uri: `${multi.replace('//localhost:', '//127.0.0.1:')}/backchannel-logout`,
    client_id: 'signin-e2e-multi',
    client_secret: 'e2e-multi-secret-not-for-production',
    token_endpoint_auth_method: 'client_secret_basic',
  });
}
// private_key_jwt: the app's public key registered, as one pastes it into Okta
if (process.env.OP_JWT_CLIENT_KEY_FILE) {
  const jwk = createPublicKey(fs.readFileSync(process.env.OP_JWT_CLIENT_KEY_FILE)).export({ format: 'jwk' });
  // the key id the app uses by default: the RFC 7638 thumbprint
  const kid = createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest('base64url');
  clients.push({
    ...app,
    client_id: 'signin-e2e-jwt',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    // Okta's "Require DPoP header": a token request without a DPoP proof is refused
    dpop_bound_access_tokens: true,
    jwks: { keys: [{ ...jwk, kid, use: 'sig', alg: 'ES256' }] },
  });
}

const configuration = {
  clients,
  pkce: { required: () => true, methods: ['S256'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.org`,
          email_verified: true,
          name: `Test ${id}`,
          preferred_username: id,
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    revocation: { enabled: true },
    // DPoP (RFC 9449) with a nonce always asked for, at the token endpoint and userinfo
    dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: Number(process.env.OP_ACCESS_TTL ?? 300),
    IdToken: 3600,
    RefreshToken: 86400,
    Grant: 86400,
    Session: 86400,
    Interaction: 600,
  },
  cookies: { keys: ['signin-e2e-cookie-key'] },
  // The provider guards its outgoing requests against loopback addresses (SSRF); here the app
  // it must reach with back-channel logout tokens *is* on loopback, so the guard is left out.
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  rotateRefreshToken: true,
};

const provider = new Provider(issuer, configuration);
provider.proxy = false;
provider.on('backchannel.error', (ctx, err, client) => {
  console.error(`back-channel logout to ${client.clientId} failed: ${err.message}`);
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening at ${issuer}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
