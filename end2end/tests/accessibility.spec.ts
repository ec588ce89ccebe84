// Accessibility (issue 18): axe-core scans every page — signed out, signed in, the error pages,
// the development provider's pages and the live notice — in light and dark, with no serious or
// critical violation; a keyboard alone signs in and out, with the focus always visible.
// Development provider only (the pages are the app's).
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { ports } from '../playwright.config';
import { hydrated, offline, providerOf, signOutInAnotherTab } from './helpers';

const devProvider = `http://127.0.0.1:${ports.devOp}`;

/** The serious and critical violations on the page as it is now, in both colour schemes. */
async function violations(page: Page, name: string): Promise<string[]> {
  const found: string[] = [];
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
    for (const v of result.violations) {
      if (v.impact === 'serious' || v.impact === 'critical') {
        const where = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ');
        found.push(`${name} (${colorScheme}): ${v.id} [${v.impact}] ${v.help} — ${where}`);
      }
    }
  }
  return found;
}

async function scan(page: Page, path: string): Promise<string[]> {
  await page.goto(path);
  return violations(page, path);
}

/** The focused element shows an outline (or a box shadow) of its own. */
async function focusVisible(page: Page) {
  const style = await page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return null;
    const s = getComputedStyle(el);
    return { outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow };
  });
  expect(style, 'something has the focus').not.toBeNull();
  expect(style!.outline !== 'none' && style!.width !== '0px' || style!.shadow !== 'none', JSON.stringify(style)).toBe(true);
}

/** Presses Tab until the focused element matches `selector` (at most 30 times). */
async function tabTo(page: Page, selector: string) {
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) {
      await focusVisible(page);
      return;
    }
  }
  throw new Error(`Tab never reached ${selector}`);
}

test.beforeEach(async ({ page }, info) => {
  test.skip(providerOf(info) !== 'dev-provider', 'the app\'s pages, scanned once');
  await offline(page);
});

test('no serious or critical violation on any page', async ({ page, context, baseURL }) => {
  const found: string[] = [];
  for (const path of ['/', '/about', '/auth/error?reason=access_denied', '/no-such-page', '/login?iss=https%3A%2F%2Funknown.example.com']) {
    found.push(...(await scan(page, path)));
  }
  await page.goto('/login?return_to=/profile');
  await expect(page.getByRole('heading', { name: /Sign in to/ })).toBeVisible();
  found.push(...(await violations(page, 'provider sign-in')));
  found.push(...(await scan(page, `${devProvider}/sessions`)));

  await page.goto('/login?return_to=/profile');
  await page.getByTestId('demo-user').first().click();
  await page.waitForURL(`${baseURL}/profile`);
  await hydrated(page);
  for (const path of ['/', '/profile', '/reports', '/admin', '/settings/sensitive', '/no-such-page']) {
    found.push(...(await scan(page, path)));
  }
  found.push(...(await scan(page, `${devProvider}/sessions`)));

  // the live notice: signed out in another tab
  await page.goto('/profile');
  await hydrated(page);
  await signOutInAnotherTab(context, page);
  found.push(...(await violations(page, 'the session-ended notice')));
  expect(found).toEqual([]);
});

test('a keyboard alone signs in and out, the focus always visible', async ({ page, baseURL }) => {
  await page.goto('/');
  await hydrated(page);
  await tabTo(page, 'a[href="/login"]');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: /Sign in to/ })).toBeVisible();
  await tabTo(page, '[data-testid="demo-user"]');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${baseURL}/profile`);
  await hydrated(page);
  await expect(page.getByTestId('nav-user')).toBeVisible();

  // the claims filter and a copy button are reachable too
  await tabTo(page, '[data-testid="claims-filter"]');
  await page.keyboard.type('groups');
  await expect(page.getByTestId('claims')).toContainText('groups');

  await page.goto('/profile');
  await hydrated(page);
  await tabTo(page, '[data-testid="sign-out"]');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${baseURL}/`);
  await expect(page.getByText('You are not signed in.')).toBeVisible();
});
