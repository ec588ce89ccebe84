// The README's pictures (issue 18): the main pages on a desktop and a phone, light and dark,
// written to docs/screenshots/. Not a test: it runs only with SCREENSHOTS=1, through
// `scripts/screenshots`, and the pictures are committed.
import { expect, test, type Page } from '@playwright/test';
import path from 'node:path';
import { projectRoot } from '../playwright.config';
import { hydrated, offline, providerOf, signOutInAnotherTab } from './helpers';

const out = path.join(projectRoot, 'docs', 'screenshots');
const desktop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };

async function shot(page: Page, name: string, size: { width: number; height: number }, colorScheme: 'light' | 'dark') {
  await page.setViewportSize(size);
  await page.emulateMedia({ colorScheme });
  // (the countdowns tick: take the picture the moment it is laid out)
  await page.screenshot({ path: path.join(out, `${name}.png`), animations: 'disabled' });
}

test.beforeEach(async ({}, info) => {
  test.skip(!process.env.SCREENSHOTS, 'pictures for the README: scripts/screenshots');
  test.skip(providerOf(info) !== 'dev-provider', 'taken with the development provider');
});

test('the main pages, desktop and phone, light and dark', async ({ page, context, baseURL }) => {
  await offline(page);
  await page.goto('/');
  await shot(page, 'home-desktop-light', desktop, 'light');

  await page.goto('/login?return_to=/profile');
  await expect(page.getByRole('heading', { name: /Sign in to/ })).toBeVisible();
  await shot(page, 'provider-phone-light', phone, 'light');
  await page.getByTestId('demo-user').first().click();
  await page.waitForURL(`${baseURL}/profile`);
  await hydrated(page);
  for (const scheme of ['light', 'dark'] as const) {
    await shot(page, `profile-desktop-${scheme}`, desktop, scheme);
    await shot(page, `profile-phone-${scheme}`, phone, scheme);
  }

  // the notice an open tab shows when the session ends elsewhere
  await signOutInAnotherTab(context, page);
  await shot(page, 'signed-out-notice-desktop-dark', desktop, 'dark');
});
