// Every page fits the screen (issue 18): no horizontal scrolling from a 320 px phone to a wide
// screen, light and dark — the app's pages signed out and signed in (with a long e-mail address
// as the person's name and claims), its error pages, and the development provider's pages.
// Development provider only: the pages are the app's; the sign-in chooser is measured in
// providers.spec.ts.
import { expect, test } from '@playwright/test';
import { ports } from '../playwright.config';
import { hydrated, offline, overflows, providerOf } from './helpers';

const devProvider = `http://127.0.0.1:${ports.devOp}`;
/** Long enough that it cannot fit on one line of a phone: it must wrap. */
const longEmail = 'a.very-long-address-that-does-not-fit-on-a-phone-at-all@an-example-domain-with-a-long-name.example.com';

test.beforeEach(async ({ page }, info) => {
  test.skip(providerOf(info) !== 'dev-provider', 'the app\'s pages, measured once');
  await offline(page);
});

test('no page scrolls sideways, signed out, from 320 px to 1280 px', async ({ page }) => {
  const found: string[] = [];
  for (const path of ['/', '/about', '/auth/error?reason=access_denied', '/auth/error?reason=provider_unavailable', '/no-such-page',
    // a page written without Leptos: a third-party login from a provider the app does not use
    '/login?iss=https%3A%2F%2Funknown.example.com']) {
    found.push(...(await overflows(page, path, () => page.goto(path))));
  }
  // the development provider's sign-in page (reached through /login) and its sessions page
  found.push(
    ...(await overflows(page, 'provider sign-in', async () => {
      await page.goto('/login?return_to=/profile');
      await expect(page.getByRole('heading', { name: /Sign in to/ })).toBeVisible();
    })),
  );
  found.push(...(await overflows(page, 'provider sessions', () => page.goto(`${devProvider}/sessions`))));
  expect(found).toEqual([]);
});

test('no page scrolls sideways, signed in with a long address, from 320 px to 1280 px', async ({ page, baseURL }) => {
  await page.goto('/profile');
  await page.fill('input[name=email]', longEmail);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${baseURL}/profile`);
  await hydrated(page);
  await expect(page.getByTestId('nav-user')).toBeVisible();

  const found: string[] = [];
  for (const path of ['/', '/profile', '/reports', '/about', '/admin', '/settings/sensitive', '/no-such-page']) {
    found.push(...(await overflows(page, path, () => page.goto(path))));
  }
  found.push(...(await overflows(page, 'provider sessions (signed in)', () => page.goto(`${devProvider}/sessions`))));
  expect(found).toEqual([]);

  // the navigation keeps "Sign out" on the screen at the smallest width
  await page.setViewportSize({ width: 320, height: 800 });
  await page.goto('/profile');
  const box = await page.getByTestId('sign-out').boundingBox();
  expect(box).not.toBeNull();
  expect(box!.x).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width).toBeLessThanOrEqual(320);
});
