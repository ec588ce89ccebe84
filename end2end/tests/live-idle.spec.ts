// The live channel and the idle timeout (the "idle-timeout" app: 8 seconds): a tab left alone
// shows "your session expired" by itself — the open channel does not keep the session alive.
import { expect, test } from '@playwright/test';
import { hydrated, offline, signInAtProvider } from './helpers';

test('an idle session ends by itself and the open tab says so', async ({ page, baseURL }) => {
  test.setTimeout(60_000);
  await offline(page);
  await page.goto('/profile');
  await signInAtProvider(page, 'dev-provider');
  await page.waitForURL(`${baseURL}/profile`);
  await hydrated(page);
  await page.getByTestId('claims-filter').fill('name');
  const signedInAt = Date.now();

  const notice = page.getByRole('alert');
  await expect(notice).toContainText('your session expired', { timeout: 15_000 });
  const after = (Date.now() - signedInAt) / 1000;
  expect(after, 'not before the idle timeout').toBeGreaterThan(5);
  await expect(page.getByTestId('claims-filter')).toHaveValue('name');
  await expect(page.getByTestId('nav-sign-in')).toBeVisible();
  // and the server agrees: the session is gone
  const profile = await page.request.post(`${baseURL}/api/profile`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: baseURL! },
    failOnStatusCode: false,
  });
  expect(profile.status()).toBe(401);
});
