// `signin doctor` (issue 16) against node-oidc-provider, an independent OpenID Certified
// provider: the set-up the oidc-provider project signs in with checks out, and a wrong client
// secret is named as such. (The development provider and the failure cases are in
// tests/it/doctor.rs.)
import { expect, test } from '@playwright/test';
import { execFile } from 'node:child_process';
import { appBinary, ports, projectRoot } from '../playwright.config';
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
