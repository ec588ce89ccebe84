// End-to-end tests in Debian's Chromium, against two providers:
//  - "dev-provider": the app with no issuer configured, using its embedded development provider;
//  - "oidc-provider": the app pointed at node-oidc-provider (OpenID Certified), started here,
//    authenticating with private_key_jwt, sending pushed authorization requests and binding
//    its tokens with DPoP.
//  - "idle-timeout": the app with its development provider and an 8-second idle timeout (the
//    live channel's "session expired" notice; live-idle.spec.ts only).
//  - "two-providers": the app with both, the development provider as the default one and
//    node-oidc-provider as a [[providers]] entry (the sign-in chooser; providers.spec.ts only).
// Ports come from the environment (scripts/test picks free ones); the app binary is the one
// `cargo leptos build` produced.
import { defineConfig } from '@playwright/test';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
export const ports = {
  devApp: port('E2E_DEV_APP_PORT', 3100),
  devOp: port('E2E_DEV_OP_PORT', 3101),
  opApp: port('E2E_OP_APP_PORT', 3102),
  op: port('E2E_OP_PORT', 3103),
  idleApp: port('E2E_IDLE_APP_PORT', 3104),
  idleOp: port('E2E_IDLE_OP_PORT', 3105),
  multiApp: port('E2E_MULTI_APP_PORT', 3106),
  multiOp: port('E2E_MULTI_OP_PORT', 3107),
};
const binary = process.env.E2E_APP_BINARY ?? './target/debug/signin';
/** The app binary, for tests that run it themselves (`signin doctor`). */
export const appBinary = path.resolve(root, binary);
export const projectRoot = root;
const tmp = path.join(root, 'end2end', '.tmp');

/** The key the app authenticates to node-oidc-provider with (private_key_jwt): made once per
 * run (scripts/test clears .tmp); the provider registers its public half. */
export const clientKeyFile = path.join(tmp, 'client-key.pem');
if (!fs.existsSync(clientKeyFile)) {
  fs.mkdirSync(tmp, { recursive: true });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  try {
    fs.writeFileSync(clientKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** The settings of the two-provider app: the development provider is the default one, and
 * node-oidc-provider a [[providers]] entry (its secret: PROVIDER_NODE_CLIENT_SECRET). */
const twoProvidersFile = path.join(tmp, 'two-providers.toml');
const twoProviders = `[package.metadata.leptos]
output-name = "signin"
site-root = "target/site"
site-pkg-dir = "pkg"
env = "DEV"

[[providers]]
id = "node"
name = "node-oidc-provider"
issuer = "http://127.0.0.1:${ports.op}"
client_id = "signin-e2e-multi"
`;
// (written once per run: the config is read again by the worker, while the app reads the file)
if (!fs.existsSync(twoProvidersFile) || fs.readFileSync(twoProvidersFile, 'utf8') !== twoProviders) {
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(twoProvidersFile, twoProviders);
}

const common = {
  ...process.env,
  RUST_LOG: process.env.RUST_LOG ?? 'info',
  LEPTOS_SITE_ROOT: 'target/site',
  LEPTOS_ENV: 'DEV',
  SESSION_STORE: 'memory',
  // every browser of every test comes from 127.0.0.1: the sign-in rate limit is tested in Rust
  LIMITS_SIGN_IN_PER_MINUTE: '6000',
  LIMITS_SIGN_IN_BURST: '1000',
  OIDC_ISSUER: '',
  OKTA_OAUTH2_ISSUER: '',
};

const chromium = {
  browserName: 'chromium' as const,
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  },
};

export default defineConfig({
  testDir: './tests',
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [['list']] : [['list'], ['html', { open: 'never' }]],
  use: { trace: 'retain-on-failure' },
  projects: [
    {
      name: 'dev-provider',
      testIgnore: /(live-idle|providers)\.spec\.ts/,
      use: { ...chromium, baseURL: `http://localhost:${ports.devApp}` },
    },
    {
      name: 'oidc-provider',
      // short access tokens (the refresh scenario) are set up for the development provider
      testIgnore: /(refresh|live-idle|providers)\.spec\.ts/,
      use: { ...chromium, baseURL: `http://localhost:${ports.opApp}` },
    },
    {
      name: 'idle-timeout',
      testMatch: /live-idle\.spec\.ts/,
      use: { ...chromium, baseURL: `http://localhost:${ports.idleApp}` },
    },
    {
      name: 'two-providers',
      testMatch: /providers\.spec\.ts/,
      use: { ...chromium, baseURL: `http://localhost:${ports.multiApp}` },
    },
  ],
  webServer: [
    {
      name: 'oidc-provider',
      command: 'node end2end/provider/oidc-provider.mjs',
      cwd: root,
      url: `http://127.0.0.1:${ports.op}/.well-known/openid-configuration`,
      env: {
        ...process.env,
        OP_PORT: String(ports.op),
        APP_URL: `http://localhost:${ports.opApp}`,
        OP_JWT_CLIENT_KEY_FILE: clientKeyFile,
        OP_MULTI_APP_URL: `http://localhost:${ports.multiApp}`,
      },
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'pipe',
      gracefulShutdown: { signal: 'SIGINT', timeout: 2000 },
    },
    {
      name: 'app (development provider)',
      command: binary,
      cwd: root,
      url: `http://127.0.0.1:${ports.devApp}/healthz`,
      timeout: 60_000,
      env: {
        ...common,
        APP_URL: `http://localhost:${ports.devApp}`,
        LEPTOS_SITE_ADDR: `127.0.0.1:${ports.devApp}`,
        DEV_PROVIDER_PORT: String(ports.devOp),
        DEV_PROVIDER_STATE_DIR: path.join(tmp, 'dev-provider'),
        // short access tokens so refreshes can be watched
        DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS: '12',
        AUTH_REFRESH_MARGIN_SECS: '4',
      },
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'pipe',
      gracefulShutdown: { signal: 'SIGINT', timeout: 2000 },
    },
    {
      name: 'app (idle timeout)',
      command: binary,
      cwd: root,
      url: `http://127.0.0.1:${ports.idleApp}/healthz`,
      timeout: 60_000,
      env: {
        ...common,
        APP_URL: `http://localhost:${ports.idleApp}`,
        LEPTOS_SITE_ADDR: `127.0.0.1:${ports.idleApp}`,
        DEV_PROVIDER_PORT: String(ports.idleOp),
        DEV_PROVIDER_STATE_DIR: path.join(tmp, 'dev-provider-idle'),
        SESSION_IDLE_TIMEOUT_SECS: '8',
      },
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'pipe',
      gracefulShutdown: { signal: 'SIGINT', timeout: 2000 },
    },
    {
      name: 'app (two providers)',
      command: binary,
      cwd: root,
      url: `http://127.0.0.1:${ports.multiApp}/healthz`,
      timeout: 60_000,
      env: {
        ...common,
        SIGNIN_SETTINGS: twoProvidersFile,
        APP_URL: `http://localhost:${ports.multiApp}`,
        LEPTOS_SITE_ADDR: `127.0.0.1:${ports.multiApp}`,
        DEV_PROVIDER_PORT: String(ports.multiOp),
        DEV_PROVIDER_STATE_DIR: path.join(tmp, 'dev-provider-multi'),
        PROVIDER_NODE_CLIENT_SECRET: 'e2e-multi-secret-not-for-production',
      },
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'pipe',
      gracefulShutdown: { signal: 'SIGINT', timeout: 2000 },
    },
    {
      name: 'app (oidc-provider)',
      command: binary,
      cwd: root,
      url: `http://127.0.0.1:${ports.opApp}/healthz`,
      timeout: 60_000,
      env: {
        ...common,
        APP_URL: `http://localhost:${ports.opApp}`,
        LEPTOS_SITE_ADDR: `127.0.0.1:${ports.opApp}`,
        OIDC_ISSUER: `http://127.0.0.1:${ports.op}`,
        // private_key_jwt (and PAR, which node-oidc-provider offers): every client-authenticated
        // call carries an assertion signed with this key, never a secret
        OIDC_CLIENT_ID: 'signin-e2e-jwt',
        OIDC_TOKEN_AUTH_METHOD: 'private_key_jwt',
        OIDC_CLIENT_PRIVATE_KEY_FILE: clientKeyFile,
        // and DPoP, which this client requires: tokens bound to a key of the app
        OIDC_DPOP: 'true',
      },
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'pipe',
      gracefulShutdown: { signal: 'SIGINT', timeout: 2000 },
    },
  ],
});
