// Sign-in scenarios, run against both providers (see playwright.config.ts projects).
import { expect, test } from '@playwright/test';
import {
  confirmSignOutAtProvider,
  denyAtProvider,
  displayName,
  hydrated,
  offline,
  providerOf,
  signInAtProvider,
} from './helpers';

// The app's Content-Security-Policy must never block its own scripts, wasm or styles.
const cspViolations: string[] = [];

test.beforeEach(async ({ page }) => {
  await offline(page);
  cspViolations.length = 0;
  const csp = /Content Security Policy|unsafe-eval/i;
  page.on('console', (m) => {
    if (m.type() === 'error' && csp.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => {
    if (csp.test(String(e))) cspViolations.push(String(e));
  });
});

test.afterEach(() => {
  expect(cspViolations).toEqual([]);
});

test('sign in from the home page', async ({ page, baseURL }, info) => {
  const provider = providerOf(info);
  await page.goto('/');
  await expect(page.getByText('You are not signed in.')).toBeVisible();
  // the first request to the provider: a pushed authorization request (RFC 9126) leaves only
  // client_id and request_uri to the browser — both providers offer PAR
  const toProvider = page.waitForRequest((r) => !r.url().startsWith(baseURL!) && r.isNavigationRequest());
  await page.getByRole('link', { name: 'Sign in' }).first().click();
  const first = new URL((await toProvider).url());
  expect([...first.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
  await page.waitForURL((url) => !url.href.startsWith(baseURL!));
  await signInAtProvider(page, provider);
  await page.waitForURL(`${baseURL}/profile`);
  await expect(page.getByTestId('profile-name')).toHaveText(displayName(provider));
  await page.goto('/');
  await expect(page.getByTestId('greeting')).toContainText(displayName(provider));
});

test('a deep link to a protected page comes back to it after sign-in', async ({ page, baseURL }, info) => {
  const provider = providerOf(info);
  const response = await page.goto('/reports?tab=week');
  // the first response was a redirect chain out of the app
  expect(response?.url().startsWith(baseURL!)).toBe(false);
  await signInAtProvider(page, provider);
  await page.waitForURL(`${baseURL}/reports?tab=week`);
  await expect(page.getByTestId('reports')).toContainText(displayName(provider));
});

test('claims render on the server and stay interactive after hydration', async ({ page, baseURL }, info) => {
  const provider = providerOf(info);
  await page.goto('/profile');
  await signInAtProvider(page, provider);
  await page.waitForURL(`${baseURL}/profile`);

  // server-rendered HTML already has the claims
  const html = await (await page.request.get('/profile')).text();
  expect(html).toContain('data-claim="sub"');
  expect(html).toContain(displayName(provider));

  await hydrated(page);
  await expect(page.locator('tr[data-claim="email"]')).toBeVisible();
  const all = await page.locator('table[data-testid=claims] tbody tr').count();
  expect(all).toBeGreaterThan(3);
  await page.getByTestId('claims-filter').fill('email');
  await expect(page.locator('tr[data-claim="sub"]')).toHaveCount(0);
  await expect(page.locator('tr[data-claim="email"]')).toBeVisible();
  await expect(page.getByTestId('claims-count')).toContainText(`of ${all} claims shown`);

  // away and back by client-side navigation: the page asks the server for the profile
  await page.evaluate(() => ((window as any).__stayed = true));
  await page.getByRole('link', { name: 'Reports' }).click();
  await expect(page.getByTestId('reports')).toBeVisible();
  // the reports page's island hydrates after the client-side navigation
  await expect(async () => {
    await page.getByTestId('details-toggle').click();
    await expect(page.getByTestId('details')).toBeVisible({ timeout: 1000 });
  }).toPass();
  await page.getByRole('link', { name: 'Profile' }).click();
  await expect(page.getByTestId('profile-name')).toHaveText(displayName(provider));
  await expect(page.locator('table[data-testid=claims] tbody tr')).toHaveCount(all);
  expect(await page.evaluate(() => (window as any).__stayed)).toBe(true);
});

test('client-side navigation to a protected page while signed out goes to sign-in', async ({ page, baseURL }, info) => {
  const provider = providerOf(info);
  await page.goto('/about');
  await hydrated(page);
  await page.getByRole('link', { name: 'Profile' }).click();
  await page.waitForURL((url) => !url.href.startsWith(baseURL!));
  await signInAtProvider(page, provider);
  await page.waitForURL(`${baseURL}/profile`);
  await expect(page.getByTestId('profile-name')).toHaveText(displayName(provider));
});

test('sign out ends the session here and at the provider', async ({ page, baseURL }, info) => {
  const provider = providerOf(info);
  await page.goto('/profile');
  await signInAtProvider(page, provider);
  await page.waitForURL(`${baseURL}/profile`);
  await hydrated(page);

  const endSession: string[] = [];
  page.on('request', (r) => {
    if (/\/(logout|session\/end)(\?|$)/.test(new URL(r.url()).pathname + '?') && !r.url().startsWith(baseURL!)) {
      endSession.push(r.url());
    }
  });
  await page.getByTestId('sign-out').click();
  if (provider === 'oidc-provider') {
    // node-oidc-provider asks for confirmation before ending its session
    await page.waitForURL((url) => !url.href.startsWith(baseURL!));
    await confirmSignOutAtProvider(page, provider);
  }
  await expect(page).toHaveURL(`${baseURL}/`);
  expect(endSession.length).toBeGreaterThan(0);
  expect(endSession[0]).toContain('id_token_hint=');
  expect(endSession[0]).toContain(encodeURIComponent(`${baseURL}/`));
  await expect(page.getByRole('link', { name: 'Sign in' }).first()).toBeVisible();

  // the session is gone: a protected page sends us to the provider again
  await page.goto('/profile');
  expect(page.url().startsWith(baseURL!)).toBe(false);
});

test('access denied at the provider shows a friendly error page', async ({ page, baseURL }, info) => {
  const provider = providerOf(info);
  await page.goto('/login');
  const response = page.waitForResponse((r) => r.url().includes('/auth/error'));
  await denyAtProvider(page, provider);
  await page.waitForURL(`${baseURL}/auth/error?reason=access_denied`);
  expect((await response).status()).toBe(403);
  await expect(page.getByTestId('auth-error')).toContainText('Sign-in was cancelled');
  await expect(page.getByRole('link', { name: 'Try signing in again' })).toBeVisible();
});

test('no token reaches the browser', async ({ page, baseURL, context }, info) => {
  const provider = providerOf(info);
  const bodies: string[] = [];
  page.on('response', async (r) => {
    const type = r.headers()['content-type'] ?? '';
    if (r.url().startsWith(baseURL!) && r.status() === 200 && /html|json/.test(type)) {
      try {
        bodies.push(await r.text());
      } catch {
        /* redirects and aborted loads have no body */
      }
    }
  });
  await page.goto('/profile');
  await signInAtProvider(page, provider);
  await page.waitForURL(`${baseURL}/profile`);
  await hydrated(page);
  await page.getByRole('link', { name: 'Reports' }).click();
  await expect(page.getByTestId('reports')).toBeVisible();
  const cookies = await context.cookies(baseURL);
  expect(cookies.map((c) => c.name)).toEqual(['sid']);
  expect(cookies[0].httpOnly).toBe(true);
  expect(cookies[0].sameSite).toBe('Lax');
  expect(cookies[0].value.length).toBeLessThan(40);
  for (const body of bodies) {
    expect(body).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./); // a JWT
    expect(body).not.toMatch(/"(access|refresh|id)_token"\s*:/); // token fields
    expect(body).not.toMatch(/\b[0-9a-f]{64}\b/); // the development provider's opaque tokens
  }
  expect(bodies.length).toBeGreaterThan(1);
});

test('with JavaScript off: sign in, see the claims, sign out', async ({ browser, baseURL }, info) => {
  const provider = providerOf(info);
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await offline(page);
  await page.goto('/');
  await expect(page.getByText('You are not signed in.')).toBeVisible();
  await page.goto('/about');
  await expect(page.getByRole('heading', { name: 'About this app' })).toBeVisible();
  await page.getByRole('link', { name: 'Profile' }).click();
  await page.waitForURL((url) => !url.href.startsWith(baseURL!));
  await signInAtProvider(page, provider);
  await page.waitForURL(`${baseURL}/profile`);
  await expect(page.getByTestId('profile-name')).toHaveText(displayName(provider));
  await expect(page.locator('tr[data-claim="sub"]')).toBeVisible();
  await page.getByRole('link', { name: 'Reports' }).click();
  await expect(page.getByTestId('reports')).toContainText(displayName(provider));
  await page.getByTestId('sign-out').click();
  if (provider === 'oidc-provider') {
    await page.waitForURL((url) => !url.href.startsWith(baseURL!));
    await confirmSignOutAtProvider(page, provider);
  }
  await expect(page).toHaveURL(`${baseURL}/`);
  await expect(page.getByRole('link', { name: 'Sign in' }).first()).toBeVisible();
  await context.close();
});
