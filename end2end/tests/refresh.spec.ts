// Token refresh seen from the browser: the person stays on the profile page while the server
// refreshes the (12-second) access token several times — the session's watcher refreshes it
// and the live channel pushes the new profile. Development provider only.
import { expect, test } from '@playwright/test';
import { signedInOnProfile } from './helpers';

test('stays signed in on the profile page across several refreshes', async ({ page, baseURL }) => {
  test.setTimeout(120_000);
  await signedInOnProfile(page, baseURL!);
  await expect(page.getByTestId('last-refreshed')).toHaveText('not yet');

  const seen = new Set<string>();
  const expiries = new Set<string>();
  const deadline = Date.now() + 60_000;
  while (seen.size < 3 && Date.now() < deadline) {
    await page.waitForTimeout(1000);
    const text = (await page.getByTestId('last-refreshed').textContent()) ?? '';
    if (text !== 'not yet') seen.add(text.replace(/\s*\(.*\)$/, ''));
    expiries.add(((await page.getByTestId('access-expires').textContent()) ?? '').replace(/\s*\(.*\)$/, ''));
  }
  expect(seen.size).toBeGreaterThanOrEqual(3);
  expect(expiries.size).toBeGreaterThanOrEqual(3);
  expect(page.url()).toBe(`${baseURL}/profile`);
  await expect(page.getByTestId('profile-name')).toHaveText('Ada Lovelace');
});

test('the profile stops asking the server once the person has navigated away', async ({ page, baseURL }) => {
  test.setTimeout(60_000);
  // without the live channel the profile asks the server itself when its token expires
  // (live.spec.ts checks that it does): that must stop once the page is gone
  await page.route('**/auth/events', (route) => route.abort());
  await signedInOnProfile(page, baseURL!);
  const expires = await page.getByTestId('access-expires').textContent();
  await page.getByRole('link', { name: 'About' }).click();
  await expect(page.getByRole('heading', { name: 'About this app' })).toBeVisible();

  // past the 12-second access token's expiry, when the profile page would ask again
  const asked: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/profile') asked.push(r.url());
  });
  await page.waitForTimeout(15_000);
  expect(asked, `the profile island kept polling (token expired ${expires})`).toEqual([]);
  expect(page.url()).toBe(`${baseURL}/about`);
});
