// Step-up (issue 15): the "sensitive settings" page needs a sign-in within the last 5 minutes.
// Signed in through a provider session from 10 minutes earlier (the development provider's
// single sign-on stand-in), the person is sent to the provider, which says a fresh sign-in
// was asked for, and comes back to the same page — the same session, under a new id; another
// open tab stays signed in (its live channel reconnects). Development provider
// only: it can stand in for an earlier provider session; other providers would need a
// 5-minute wait.
import { expect, test } from '@playwright/test';
import { hydrated, offline, providerOf } from './helpers';

test.beforeEach(async ({}, info) => {
  test.skip(providerOf(info) !== 'dev-provider', 'the development provider stands in for an earlier provider session');
});

test('the sensitive page asks for a fresh sign-in and comes back to it', async ({ page, baseURL }) => {
  await offline(page);
  await page.goto('/profile');
  await expect(page.getByRole('heading', { name: /Sign in to/ })).toBeVisible();
  await page.getByTestId('earlier-session').check();
  await page.getByTestId('demo-user').nth(0).click();
  await page.waitForURL(`${baseURL}/profile`);
  await hydrated(page);
  const session = (await page.context().cookies()).find((c) => c.name.endsWith('sid'))?.value;
  expect(session).toBeTruthy();

  // another tab of the session
  const other = await page.context().newPage();
  await other.goto('/reports');
  await hydrated(other);

  // a client-side navigation to the page: sent to the provider, asking for a fresh sign-in
  await page.getByTestId('sensitive-link').click();
  await expect(page.getByTestId('fresh-sign-in-asked')).toBeVisible();
  await expect(page.getByTestId('fresh-sign-in-asked')).toContainText('within the last 5 minutes');
  // the request was pushed to the provider (RFC 9126): the browser carries a request_uri only
  expect([...new URL(page.url()).searchParams.keys()]).toEqual(['client_id', 'request_uri']);
  await expect(page.getByTestId('earlier-session')).toHaveCount(0);
  // the other tab's live channel will close and open again (with the new cookie)
  const reconnected = other.waitForRequest((r) => new URL(r.url()).pathname === '/auth/events', { timeout: 15_000 });
  await page.getByTestId('demo-user').nth(0).click();

  // back on the same page, signed in moments ago, the session under a new id
  await page.waitForURL(`${baseURL}/settings/sensitive`);
  await expect(page.getByRole('heading', { name: 'Sensitive settings' })).toBeVisible();
  await expect(page.getByTestId('authenticated-at')).toContainText(/just now|\d+ s ago/);
  await expect(page.getByTestId('nav-user')).toHaveText('Ada Lovelace');
  expect((await page.context().cookies()).find((c) => c.name.endsWith('sid'))?.value).not.toBe(session);
  await hydrated(page);
  await expect(page.locator('.session-notice')).toBeEmpty();
  // the other tab was not told "signed out": its channel reconnected with the new cookie
  await reconnected;
  await other.waitForTimeout(1000);
  await expect(other.locator('.session-notice')).toBeEmpty();
  await expect(other.getByTestId('nav-user')).toHaveText('Ada Lovelace');
  await other.getByRole('link', { name: 'Profile' }).click();
  await expect(other.getByTestId('profile-name')).toHaveText('Ada Lovelace');

  // a full load of the page now opens it directly
  const response = await page.goto('/settings/sensitive');
  expect(response?.status()).toBe(200);
});
