// `signin doctor` (issue 16) against node-oidc-provider, an independent OpenID Certified
// provider: the set-up the oidc-provider project signs in with checks out, and a wrong client
// secret is named as such. (The development provider and the failure cases are in
// tests/it/doctor.rs.)
import { expect, test } from '@playwright/test';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appBinary, clientKeyFile, ports, projectRoot } from '../playwright.config';
import { providerOf } from './helpers';

function doctor(env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      appBinary,
      ['doctor'],
      { cwd: projectRoot, env: { PATH: process.env.PATH ?? '', RUST_LOG: 'off', ...env }, timeout: 30_000 },
      (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout }),
    );
  });
}

const provider = {
  OIDC_ISSUER: `http://127.0.0.1:${ports.op}`,
  OIDC_CLIENT_ID: 'signin-e2e',
  APP_URL: `http://localhost:${ports.opApp}`,
};

test.beforeEach(async ({}, info) => {
  test.skip(providerOf(info) !== 'oidc-provider', 'runs against node-oidc-provider');
});

test('signin doctor finds node-oidc-provider ready', async () => {
  const { code, out } = await doctor({ ...provider, OIDC_CLIENT_SECRET: 'e2e-secret-not-for-production' });
  expect(out).toContain('discovery announces exactly this issuer');
  expect(out).toMatch(/^ok +pkce +S256$/m);
  expect(out).toMatch(/^ok +redirect +the provider accepts/m);
  expect(out).toMatch(/^ok +credentials +the provider accepts this client's credentials/m);
  expect(out).not.toContain('ERROR');
  expect(code).toBe(0);
});

test('signin doctor names a wrong client secret', async () => {
  const { code, out } = await doctor({ ...provider, OIDC_CLIENT_SECRET: 'not-the-secret' });
  expect(out).toMatch(/^ERROR credentials .*OIDC_CLIENT_SECRET/m);
  expect(code).toBe(1);
});

test('signin doctor checks a private_key_jwt client by its assertion', async () => {
  const jwt = { ...provider, OIDC_CLIENT_ID: 'signin-e2e-jwt', OIDC_TOKEN_AUTH_METHOD: 'private_key_jwt' };
  const good = await doctor({ ...jwt, OIDC_CLIENT_PRIVATE_KEY_FILE: clientKeyFile });
  expect(good.out).toMatch(/^ok +client auth +private_key_jwt$/m);
  expect(good.out).toMatch(/^ok +credentials +the provider accepts this client's credentials/m);
  expect(good.code).toBe(0);

  // a key the provider does not know
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signin-doctor-'));
  const other = path.join(dir, 'other.pem');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  fs.writeFileSync(other, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const bad = await doctor({ ...jwt, OIDC_CLIENT_PRIVATE_KEY_FILE: other });
  expect(bad.out).toMatch(/^ERROR credentials .*signin jwk/m);
  expect(bad.code).toBe(1);
  fs.rmSync(dir, { recursive: true, force: true });
});
