// Sign-outs the provider starts: the app's session ends without the app's own sign-out button.
//  - both providers: sign out at the provider → back-channel logout → the app session is gone;
//  - development provider: Universal Logout from its sessions page → the person's sessions
//    in two browser contexts are gone.
import { expect, test, type Page } from '@playwright/test';
import { ports } from '../playwright.config';
import { displayName, offline, providerOf, signInAtProvider, signOutAtProvider, type ProviderKind } from './helpers';

const devProvider = `http://127.0.0.1:${ports.devOp}`;
const oidcProvider = `http://127.0.0.1:${ports.op}`;

async function signIn(page: Page, baseURL: string, provider: ProviderKind) {
  await offline(page);
  await page.goto('/profile');
  await signInAtProvider(page, provider);
  await page.waitForURL(`${baseURL}/profile`);
  await expect(page.getByTestId('profile-name')).toHaveText(displayName(provider));
}

/** The app no longer knows the browser: a protected page sends it to the provider. */
async function expectSignedOut(page: Page, baseURL: string) {
  await page.goto('/profile');
  await page.waitForURL((url) => !url.href.startsWith(baseURL));
  // and the server functions refuse it (asked as the app's own pages ask: same origin)
  const profile = await page.request.post(`${baseURL}/api/profile`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: baseURL },
    failOnStatusCode: false,
  });
  expect(profile.status()).toBe(401);
}

test('signing out at the provider ends the app session (back-channel logout)', async ({ page, baseURL }, info) => {
  const provider = providerOf(info);
  await signIn(page, baseURL!, provider);
  await signOutAtProvider(page, provider, devProvider, oidcProvider);
  await expectSignedOut(page, baseURL!);
});

test('Universal Logout from the development provider ends the person\'s sessions everywhere', async ({ browser, baseURL }, info) => {
  test.skip(providerOf(info) !== 'dev-provider', 'the development provider sends Universal Logout');
  const first = await browser.newContext();
  const second = await browser.newContext();
  const [a, b] = [await first.newPage(), await second.newPage()];
  await signIn(a, baseURL!, 'dev-provider');
  await signIn(b, baseURL!, 'dev-provider');

  await a.goto(`${devProvider}/sessions`);
  await a.getByTestId('session').filter({ hasText: 'ada@example.com' }).first()
    .getByTestId('universal-logout').click();
  await expect(a.getByTestId('notice')).toContainText('Universal Logout');
  await expect(a.getByTestId('session').filter({ hasText: 'ada@example.com' })).toHaveCount(0);

  await expectSignedOut(a, baseURL!);
  await expectSignedOut(b, baseURL!);
  await first.close();
  await second.close();
});
