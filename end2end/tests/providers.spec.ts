// Two providers at once (issue 16): the development provider as the default one and
// node-oidc-provider as a [[providers]] entry. Signing in starts at the chooser; each choice
// signs in at its own provider, and signing out goes back to that one.
import { expect, test } from '@playwright/test';
import { confirmSignOutAtProvider, displayName, hydrated, offline, overflows, signInAtProvider } from './helpers';
import { ports } from '../playwright.config';

test.beforeEach(async ({ page }) => {
  await offline(page);
});

test('the chooser offers both providers, and each signs in and out at its own', async ({ page, baseURL }) => {
  const node = `http://127.0.0.1:${ports.op}`;

  // a deep link while signed out: the chooser first, then node-oidc-provider
  await page.goto('/reports');
  await expect(page).toHaveURL(/\/auth\/sign-in\?return_to=%2Freports$/);
  const chooser = page.getByTestId('sign-in-chooser');
  await expect(chooser.getByRole('link')).toHaveText([
    'Sign in with Development provider',
    'Sign in with node-oidc-provider',
  ]);
  await chooser.getByRole('link', { name: 'Sign in with node-oidc-provider' }).click();
  await page.waitForURL((url) => url.href.startsWith(node));
  await signInAtProvider(page, 'oidc-provider', 'grace');
  await page.waitForURL(`${baseURL}/reports`);
  await expect(page.getByTestId('reports')).toContainText(displayName('oidc-provider', 'grace'));

  // sign-out ends the session here and at node-oidc-provider (its end-session page)
  await page.goto('/profile');
  await hydrated(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((url) => url.href.startsWith(node) || url.href === `${baseURL}/`);
  if (page.url().startsWith(node)) {
    await confirmSignOutAtProvider(page, 'oidc-provider');
    await page.waitForURL(`${baseURL}/`);
  }
  await expect(page.getByText('You are not signed in.')).toBeVisible();

  // the other choice: the development provider
  await page.goto('/login?return_to=/profile');
  await page.getByRole('link', { name: 'Sign in with Development provider' }).click();
  await page.waitForURL((url) => url.href.startsWith(`http://127.0.0.1:${ports.multiOp}`) || url.href.startsWith(`http://localhost:${ports.multiOp}`));
  await signInAtProvider(page, 'dev-provider');
  await page.waitForURL(`${baseURL}/profile`);
  await expect(page.getByTestId('profile-name')).toHaveText(displayName('dev-provider'));
});

test('the chooser fits every screen from 320 px to 1280 px (issue 18)', async ({ page }) => {
  const found = await overflows(page, 'the sign-in chooser', () => page.goto('/auth/sign-in?return_to=%2Fprofile'));
  expect(found).toEqual([]);
});
