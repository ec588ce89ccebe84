import { expect, type BrowserContext, type Page, type TestInfo } from '@playwright/test';

export type ProviderKind = 'dev-provider' | 'oidc-provider';

export const providerOf = (info: TestInfo) => info.project.name as ProviderKind;

/** Blocks the Google Fonts that oidc-provider's pages import (no internet here). */
export async function offline(page: Page) {
  await page.route(/fonts\.(googleapis|gstatic)\.com/, (route) => route.abort());
}

/** Waits until the WASM app has hydrated (the app marks <body data-hydrated>). */
export async function hydrated(page: Page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
}

/** True while the browser is on the provider's origin (not the app's). */
export function atProvider(page: Page, baseURL: string) {
  return !page.url().startsWith(baseURL);
}

/** Completes sign-in on the provider's page. */
export async function signInAtProvider(page: Page, provider: ProviderKind, user = 'alice') {
  if (provider === 'dev-provider') {
    await expect(page.getByRole('heading', { name: /Sign in to/ })).toBeVisible();
    if (user === 'alice') {
      await page.getByTestId('demo-user').first().click();
    } else {
      await page.fill('input[name=email]', `${user}@example.com`);
      await page.getByRole('button', { name: 'Continue' }).click();
    }
    return;
  }
  await page.locator('input[name=login]').fill(user);
  await page.locator('input[name=password]').fill('any password');
  await page.locator('button[type=submit]').click();
  // first time: the consent page (its prompt input is hidden but attached)
  await page.waitForLoadState();
  const consent = page.locator('input[name=prompt][value=consent]');
  if (await consent.count()) {
    await page.locator('button[type=submit]').click();
  }
}

/** Opens /profile signed out, signs in at the development provider and waits for hydration. */
export async function signedInOnProfile(page: Page, baseURL: string) {
  await offline(page);
  await page.goto('/profile');
  await signInAtProvider(page, 'dev-provider');
  await page.waitForURL(`${baseURL}/profile`);
  await hydrated(page);
}

/** Refuses sign-in on the provider's page. */
export async function denyAtProvider(page: Page, provider: ProviderKind) {
  if (provider === 'dev-provider') {
    await page.getByRole('button', { name: /Deny/ }).click();
  } else {
    await page.getByText('[ Cancel ]').click();
  }
}

/** Confirms sign-out on the provider's end-session page when it asks. */
export async function confirmSignOutAtProvider(page: Page, provider: ProviderKind) {
  if (provider === 'oidc-provider') {
    const yes = page.locator('button[autofocus], button[type=submit]').first();
    await yes.click();
  }
}

export function displayName(provider: ProviderKind, user = 'alice') {
  return provider === 'dev-provider' ? (user === 'alice' ? 'Ada Lovelace' : user) : `Test ${user}`;
}

/** Signs the demo person out at the provider (which tells the app by back-channel logout):
 *  every session of Ada at the development provider, or oidc-provider's end-session page. */
export async function signOutAtProvider(page: Page, provider: ProviderKind, devProvider: string, oidcProvider: string) {
  if (provider === 'dev-provider') {
    // sign out every provider session of the person (earlier tests may have left some)
    await page.goto(`${devProvider}/sessions`);
    const sessions = page.getByTestId('session').filter({ hasText: 'ada@example.com' });
    await expect(sessions.first()).toBeVisible();
    while ((await sessions.count()) > 0) {
      await sessions.first().getByTestId('sign-out').click();
      await expect(page.getByTestId('notice')).toContainText('back-channel logout');
    }
  } else {
    // the provider's own end-session page, without the app's involvement
    await page.goto(`${oidcProvider}/session/end`);
    await page.locator('button[autofocus], button[type=submit]').first().click();
    await page.waitForLoadState();
  }
}

/** The widths every page must fit: a small phone, a common phone, a laptop. */
const widths = [320, 390, 1280];
const schemes = ['light', 'dark'] as const;

/** Opens `open` at each width and colour scheme and says which of them scroll sideways. */
export async function overflows(page: Page, name: string, open: () => Promise<unknown>): Promise<string[]> {
  const found: string[] = [];
  for (const colorScheme of schemes) {
    await page.emulateMedia({ colorScheme });
    for (const width of widths) {
      await page.setViewportSize({ width, height: 800 });
      await open();
      const [scrollWidth, innerWidth] = await page.evaluate(() => [
        document.documentElement.scrollWidth,
        window.innerWidth,
      ]);
      if (scrollWidth > innerWidth) {
        found.push(`${name} at ${width} px (${colorScheme}): ${scrollWidth} px wide`);
      }
    }
  }
  return found;
}

/** Signs out in a second tab of `context` (development provider: no confirmation), and waits
 *  until `page`, an open tab of the same session, shows the live notice. */
export async function signOutInAnotherTab(context: BrowserContext, page: Page) {
  const other = await context.newPage();
  await offline(other);
  await other.goto('/reports');
  await hydrated(other);
  await other.getByTestId('sign-out').click();
  await other.waitForURL((url) => !url.pathname.startsWith('/reports'));
  await expect(page.getByRole('alert')).toContainText('You have been signed out', { timeout: 5_000 });
}
