// Readable claims on the profile page (issue 18): times as dates with the raw value on hover,
// lists as chips, identifiers with a copy button that really copies. Development provider only
// (its demo person has groups).
import { expect, test } from '@playwright/test';
import { providerOf, signedInOnProfile } from './helpers';

test.beforeEach(async ({}, info) => {
  test.skip(providerOf(info) !== 'dev-provider', 'the development provider\'s demo person has groups');
});

test('times, lists and identifiers are shown for people', async ({ page, context, baseURL }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL! });
  await signedInOnProfile(page, baseURL!);

  const iat = page.locator('tr[data-claim="iat"] time');
  await expect(iat).toHaveText(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
  await expect(iat).toHaveAttribute('title', /^iat: \d{9,} \(Unix time\)$/);
  await expect(iat).toHaveAttribute('datetime', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

  const groups = page.locator('tr[data-claim="groups"] .chips li');
  await expect(groups).toContainText(['Admins']);
  expect(await groups.count()).toBeGreaterThan(0);

  const sub = (await page.getByTestId('profile-sub').textContent())!.trim();
  expect(sub.length).toBeGreaterThan(0);
  await page.locator('tr[data-claim="sub"]').getByRole('button', { name: 'Copy sub' }).click();
  await expect(page.locator('tr[data-claim="sub"]').getByRole('button', { name: 'Copy sub' })).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(sub);
  await expect(page.locator('#copy-status')).toHaveText('sub copied');
});
