// A page for one group (issue 15): the development provider's demo users carry `groups` —
// Ada is in Admins, Grace is not. Ada opens /admin; Grace gets a clear 403 page, not a
// sign-in loop. Development provider only (its demo users).
import { expect, test, type Page } from '@playwright/test';
import { hydrated, offline, providerOf } from './helpers';

async function signInAs(page: Page, baseURL: string, demoUser: number) {
  await offline(page);
  await page.goto('/profile');
  await expect(page.getByRole('heading', { name: /Sign in to/ })).toBeVisible();
  await page.getByTestId('demo-user').nth(demoUser).click();
  await page.waitForURL(`${baseURL}/profile`);
  await hydrated(page);
}

test.beforeEach(async ({}, info) => {
  test.skip(providerOf(info) !== 'dev-provider', 'the development provider\'s demo users carry groups');
});

test('Ada (Admins) opens the admin page, from the navigation bar too', async ({ page, baseURL }) => {
  await signInAs(page, baseURL!, 0);
  await page.getByRole('link', { name: 'Admin', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Admin' })).toBeVisible();
  await expect(page.getByTestId('admin')).toContainText('Ada Lovelace');
  const response = await page.goto('/admin');
  expect(response?.status()).toBe(200);
});

test('Grace (not in Admins) gets a 403 page, not a sign-in loop', async ({ page, baseURL }) => {
  await signInAs(page, baseURL!, 1);
  await expect(page.getByTestId('nav-user')).toHaveText('Grace Hopper');
  await expect(page.getByRole('link', { name: 'Admin', exact: true })).toHaveCount(0);
  const response = await page.goto('/admin');
  expect(response?.status()).toBe(403);
  expect(page.url()).toBe(`${baseURL}/admin`);
  await expect(page.getByRole('heading', { name: 'This page is not open to you' })).toBeVisible();
  await expect(page.getByTestId('admin')).toHaveCount(0);
  // still signed in: the rest of the app works
  await page.getByRole('link', { name: 'Profile' }).click();
  await expect(page.getByTestId('profile-name')).toHaveText('Grace Hopper');

  // a client-side navigation (the islands router's fetch) gets the same 403 page
  // (Grace has no link to /admin: point an existing one there, leaving the page's shape as the
  // router's diff expects it)
  await page.evaluate(() => {
    document.querySelector('nav.links a[href="/reports"]')?.setAttribute('href', '/admin');
  });
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname === '/admin');
  await page.getByRole('link', { name: 'Reports' }).click();
  const navigation = await answer;
  expect(navigation.status()).toBe(403);
  expect(navigation.request().headers()['islands-router']).toBeTruthy();
  await expect(page.getByRole('heading', { name: 'This page is not open to you' })).toBeVisible();
  await expect(page.getByTestId('nav-user')).toHaveText('Grace Hopper');
});
