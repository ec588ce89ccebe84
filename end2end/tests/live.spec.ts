// The live session channel (issue 14): open tabs hear at once that their session ended, and the
// profile page shows each refresh — without a reload, and with what the person typed kept.
import { expect, test, type Page } from '@playwright/test';
import { ports } from '../playwright.config';
import {
  confirmSignOutAtProvider,
  displayName,
  hydrated,
  offline,
  providerOf,
  signOutAtProvider,
  signInAtProvider,
  signedInOnProfile,
} from './helpers';

const devProvider = `http://127.0.0.1:${ports.devOp}`;
const oidcProvider = `http://127.0.0.1:${ports.op}`;

/** Marks the document, so a reload (which would lose the mark) can be told apart. */
async function mark(page: Page) {
  await page.evaluate(() => ((window as unknown as { __kept: number }).__kept = 42));
}
async function stillMarked(page: Page) {
  expect(await page.evaluate(() => (window as unknown as { __kept?: number }).__kept)).toBe(42);
}

/** The open tab says the session is over, keeps the page, and offers the way back. */
async function expectNotice(page: Page, words: RegExp, path: string) {
  const notice = page.getByRole('alert');
  await expect(notice).toContainText(words, { timeout: 3_000 });
  await expect(notice).toContainText('You have been signed out');
  const again = notice.getByRole('link', { name: 'Sign in again' });
  await expect(again).toHaveAttribute('href', `/login?return_to=${path}` /* "/" stays as it is */);
  // the navigation bar is in the signed-out state
  await expect(page.getByTestId('nav-user')).toHaveCount(0);
  await expect(page.getByTestId('nav-sign-in')).toBeVisible();
  await stillMarked(page);
}

/** Keyboard: Tab reaches "Sign in again". */
async function reachableByKeyboard(page: Page) {
  await page.locator('body').click({ position: { x: 1, y: 1 } });
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press('Tab');
    const testid = await page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
    if (testid === 'sign-in-again') return;
  }
  throw new Error('"Sign in again" is not reachable with Tab');
}

async function signedIn(page: Page, baseURL: string, provider: 'dev-provider' | 'oidc-provider') {
  await offline(page);
  await page.goto('/profile');
  await signInAtProvider(page, provider);
  await page.waitForURL(`${baseURL}/profile`);
  await expect(page.getByTestId('profile-name')).toHaveText(displayName(provider));
  await hydrated(page);
}

test('two tabs: signing out in one tells the other at once, and keeps what was typed', async ({ context, baseURL }, info) => {
  const provider = providerOf(info);
  const first = await context.newPage();
  await signedIn(first, baseURL!, provider);
  await first.getByTestId('claims-filter').fill('mail');
  await mark(first);

  const second = await context.newPage();
  await offline(second);
  await second.goto('/reports');
  await hydrated(second);
  await second.getByTestId('sign-out').click();
  await confirmSignOutAtProvider(second, provider);
  await second.waitForURL((url) => !url.pathname.startsWith('/reports'));

  await expectNotice(first, /another tab/, '/profile');
  await expect(first.getByTestId('claims-filter')).toHaveValue('mail');
  await expect(first.getByTestId('claims')).toContainText('email');
  expect(first.url()).toBe(`${baseURL}/profile`);
  await reachableByKeyboard(first);

  // "Sign in again" comes back to the same page
  await first.getByRole('link', { name: 'Sign in again' }).click();
  await signInAtProvider(first, provider);
  await first.waitForURL(`${baseURL}/profile`);
  await expect(first.getByTestId('nav-user')).toHaveText(displayName(provider));
});

test('signing out at the provider (back-channel logout) tells the open tab', async ({ context, baseURL }, info) => {
  const provider = providerOf(info);
  const tab = await context.newPage();
  await signedIn(tab, baseURL!, provider);
  await mark(tab);
  // the home page's greeting reads use_user(), which the channel keeps current
  const home = await context.newPage();
  await home.goto('/');
  await hydrated(home);
  await expect(home.getByTestId('greeting')).toHaveText(`Welcome back, ${displayName(provider)}!`);

  const provider_tab = await context.newPage();
  await offline(provider_tab);
  await signOutAtProvider(provider_tab, provider, devProvider, oidcProvider);
  await expectNotice(tab, /sign-in provider/, '/profile');
  await expect(home.getByTestId('greeting')).toHaveText('You are signed out.', { timeout: 3_000 });
});

test('a refresh updates the profile page without a reload or a request from the page', async ({ page, baseURL }, info) => {
  test.skip(providerOf(info) !== 'dev-provider', 'short access tokens are set up for the development provider');
  test.setTimeout(60_000);
  const asked: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) asked.push(r.url());
  });
  await signedInOnProfile(page, baseURL!);
  await mark(page);
  const expires = page.getByTestId('access-expires');
  const before = ((await expires.textContent()) ?? '').replace(/\s*\(.*\)$/, '');
  // 12-second tokens, refreshed 4 s before they expire: within ~10 s
  await expect(expires).not.toContainText(before, { timeout: 20_000 });
  await expect(page.getByTestId('last-refreshed')).not.toHaveText('not yet');
  await stillMarked(page);
  expect(asked, 'the page asked nothing: the server pushed the new profile').toEqual([]);
});

test('without the channel the profile page still refreshes (it asks, as before)', async ({ page, baseURL }, info) => {
  test.skip(providerOf(info) !== 'dev-provider', 'short access tokens are set up for the development provider');
  test.setTimeout(60_000);
  await page.route('**/auth/events', (route) => route.abort());
  await signedInOnProfile(page, baseURL!);
  const asked: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/profile') asked.push(r.url());
  });
  const expires = page.getByTestId('access-expires');
  const before = ((await expires.textContent()) ?? '').replace(/\s*\(.*\)$/, '');
  await expect(expires).not.toContainText(before, { timeout: 25_000 });
  expect(asked.length).toBeGreaterThan(0);
});

test('one channel per tab, kept across client-side navigations', async ({ page, baseURL }, info) => {
  test.skip(providerOf(info) !== 'dev-provider', 'the same for every provider');
  const opened: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/auth/events') opened.push(r.url());
  });
  await signedInOnProfile(page, baseURL!);
  for (const [link, heading] of [['About', 'About this app'], ['Reports', /Reports/], ['Profile', null]] as const) {
    await page.getByRole('link', { name: link, exact: true }).click();
    if (heading) await expect(page.getByRole('heading', { name: heading }).first()).toBeVisible();
  }
  await expect(page.getByTestId('profile-name')).toBeVisible();
  await page.waitForTimeout(1000);
  expect(opened.length).toBe(1);
});

test('a failing channel is reopened with growing delays, and connects once it can', async ({ page, baseURL }, info) => {
  test.skip(providerOf(info) !== 'dev-provider', 'the same for every provider');
  test.setTimeout(60_000);
  let failing = true;
  const attempts: number[] = [];
  await page.route('**/auth/events', async (route) => {
    attempts.push(Date.now());
    if (failing) await route.abort();
    else await route.continue();
  });
  await signedInOnProfile(page, baseURL!);
  // reopened after 0.5–1 s, then 1–2 s, then 2–4 s (jitter): four attempts take at least 3.5 s
  await expect.poll(() => attempts.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(4);
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
  expect(gaps[0]).toBeGreaterThanOrEqual(400);
  expect(gaps[2], `gaps ${gaps}`).toBeGreaterThan(gaps[0]);
  expect(gaps[2]).toBeGreaterThanOrEqual(1900);

  // the channel comes back: a sign-out elsewhere reaches this tab again
  failing = false;
  const before = attempts.length;
  await expect.poll(() => attempts.length, { timeout: 20_000 }).toBeGreaterThan(before);
  await page.waitForTimeout(500);
  const other = await page.context().newPage();
  await offline(other);
  await other.goto('/about');
  await hydrated(other);
  await other.getByTestId('sign-out').click();
  await expect(page.getByRole('alert')).toContainText('another tab', { timeout: 3_000 });
});
