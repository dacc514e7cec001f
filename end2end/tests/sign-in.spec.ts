import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import AxeBuilder from '@axe-core/playwright';
import { codeFor, enterCode, requestCode, uniqueEmail, wrongCode } from './helpers';

const MAIN = 'http://127.0.0.1:3100';
const SHORT_EXPIRY = 'http://127.0.0.1:3101';
const shots = 'test-results/screenshots';

test('sign in with an email address, then sign out', async ({ page, request }) => {
  const email = uniqueEmail('jane');
  await page.goto('/sign-in');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  const input = page.getByLabel('Email address');
  await expect(input).toHaveAttribute('type', 'email');
  await expect(input).toHaveAttribute('autocomplete', 'email');
  await page.screenshot({ path: `${shots}/sign-in.png`, fullPage: true });

  await input.fill(email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByText(/We sent a 6-digit code to j•••@example\.com/)).toBeVisible();
  const codeInput = page.getByLabel('Code', { exact: true });
  await expect(codeInput).toHaveAttribute('autocomplete', 'one-time-code');
  await expect(codeInput).toHaveAttribute('inputmode', 'numeric');
  // Each step is a new page: the code field has the focus on arrival.
  await expect(codeInput).toBeFocused();
  await page.screenshot({ path: `${shots}/code.png`, fullPage: true });

  const code = await codeFor(request, MAIN, email);
  // Pasted with a space in the middle, as many mail clients copy it.
  await enterCode(page, `${code.slice(0, 3)} ${code.slice(3)}`);
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId('identity')).toHaveText(email);
  await page.screenshot({ path: `${shots}/account.png`, fullPage: true });
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === '__Host-passcode_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Lax');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  expect((await page.context().cookies()).find((c) => c.name === '__Host-passcode_session')).toBeUndefined();
  await page.goto('/account');
  await expect(page).toHaveURL(/\/sign-in$/);
});

test('sign in with a phone number', async ({ page, request }) => {
  const national = String(Math.floor(Math.random() * 900) + 100);
  const typed = `+44 7911 123${national}`;
  await page.goto('/sign-in');
  await page.getByRole('link', { name: 'Phone' }).click();
  await expect(page).toHaveURL(/with=phone/);
  const input = page.getByLabel('Phone number');
  await expect(input).toHaveAttribute('type', 'tel');
  await expect(input).toHaveAttribute('autocomplete', 'tel');
  await input.fill(typed);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByText(new RegExp(`We sent a 6-digit code to \\+44 .*${national}`))).toBeVisible();
  await expect(page.getByText('7911')).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Use a different number' })).toBeVisible();
  const code = await codeFor(request, MAIN, `+447911123${national}`);
  await enterCode(page, code);
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId('identity')).toHaveText(`+447911123${national}`);
});

test('a malformed address is explained next to the field, which has the focus', async ({ page }) => {
  await page.goto('/sign-in');
  await page.getByLabel('Email address').fill('foo@');
  await page.getByRole('button', { name: 'Send code' }).click();
  const error = page.locator('#identifier-error');
  await expect(error).toHaveText('Enter an email address like name@example.com.');
  const input = page.getByLabel('Email address');
  await expect(input).toHaveAttribute('aria-invalid', 'true');
  // The page that comes back puts the person on the field, and a screen
  // reader reads the message with it.
  await expect(input).toBeFocused();
  await expect(input).toHaveAccessibleDescription('Enter an email address like name@example.com.');
  await expect(page).toHaveURL(/\/sign-in(\?|$)/);
  expect(new URL(page.url()).pathname).toBe('/sign-in');
});

/** Counts the sign-in form's submissions and keeps the page where it is, as
 *  if the server were slow to answer. */
async function holdSubmissions(page: Page) {
  await expect(page.locator('html')).toHaveAttribute('data-islands', 'hydrated');
  await page.evaluate(() => {
    (window as any).__submits = 0;
    document.querySelector('form')!.addEventListener('submit', (e) => {
      (window as any).__submits += 1;
      e.preventDefault();
    });
  });
  return async () => page.evaluate(() => (window as any).__submits as number);
}

test('the button shows it is working and sends the form only once', async ({ page }) => {
  await page.goto('/sign-in');
  const submits = await holdSubmissions(page);
  await page.getByLabel('Email address').fill(uniqueEmail('pending'));
  await page.getByLabel('Email address').press('Enter');
  const busy = page.getByRole('button', { name: 'Sending…' });
  await expect(busy).toBeDisabled();
  // Impatient presses send nothing more.
  await busy.click({ force: true });
  await busy.click({ force: true });
  expect(await submits()).toBe(1);
});

test('a pending button works again when the page comes back from the cache', async ({ page }) => {
  await page.goto('/sign-in');
  const submits = await holdSubmissions(page);
  await page.getByLabel('Email address').fill(uniqueEmail('restored'));
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect(page.getByRole('button', { name: 'Sending…' })).toBeDisabled();
  // What the browser fires when Back brings the page out of its cache.
  await page.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })));
  const button = page.getByRole('button', { name: 'Send code' });
  await expect(button).toBeEnabled();
  await button.click();
  expect(await submits()).toBe(2);
});

test('with JavaScript the code page comes in place, and the address, history and focus behave as after a page load', async ({ page, request }) => {
  await page.goto('/sign-in');
  await expect(page.locator('html')).toHaveAttribute('data-islands', 'hydrated');
  // Survives only while the document does: gone after any page load.
  await page.evaluate(() => ((window as any).__samePage = true));
  const samePage = () => page.evaluate(() => (window as any).__samePage === true);

  // A mistake first: the answer comes in place, the field has the focus and
  // is described by the message, as after the plain post.
  await page.getByLabel('Email address').fill('foo@');
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect(page.locator('#identifier-error')).toHaveText('Enter an email address like name@example.com.');
  await expect(page.getByLabel('Email address')).toBeFocused();
  await expect(page.getByLabel('Email address')).toHaveAccessibleDescription('Enter an email address like name@example.com.');
  expect(await samePage()).toBe(true);

  const email = uniqueEmail('inplace');
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page).toHaveTitle('Enter your code · Passcode');
  const codeInput = page.getByLabel('Code', { exact: true });
  await expect(codeInput).toBeFocused();
  await expect(page.getByText(/We sent a 6-digit code to i•••@example\.com/)).toBeVisible();
  // The new page's behaviours are bound: the resend button counts down.
  await expect(page.getByRole('button', { name: /Send a new code/ })).toBeDisabled();
  expect(await samePage()).toBe(true);
  const code = await codeFor(request, MAIN, email);

  // Back shows the page at that address, Forward the code page again, and
  // a reload the same page the server gives any browser at /verify.
  await page.goBack();
  await expect(page).toHaveURL(/\/sign-in(\?|$)/);
  await expect(page.getByLabel('Email address')).toBeVisible();
  await page.goForward();
  await expect(page).toHaveURL(/\/verify$/);
  await expect(codeInput).toBeVisible();
  await page.reload();
  await expect(page.getByText(/We sent a 6-digit code to i•••@example\.com/)).toBeVisible();
  await enterCode(page, code, { waitForIslands: true });
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId('identity')).toHaveText(email);
  // One code was sent for the one press.
  const sent = (await (await request.get(`${MAIN}/dev/outbox.json`)).json()) as { to: string }[];
  expect(sent.filter((m) => m.to === email)).toHaveLength(1);
});

test('when the in-place request gets no answer, the form posts the plain way', async ({ page, request }) => {
  await page.goto('/sign-in');
  await expect(page.locator('html')).toHaveAttribute('data-islands', 'hydrated');
  await page.evaluate(() => ((window as any).__samePage = true));
  // The first request never reaches the server (the connection drops); the
  // plain post after it does.
  let posts = 0;
  await page.route('**/api/request_code', (route) => (posts++ === 0 ? route.abort('connectionreset') : route.continue()));
  const email = uniqueEmail('fallback');
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByLabel('Code', { exact: true })).toBeVisible();
  expect(posts).toBe(2);
  // A page load this time.
  expect(await page.evaluate(() => (window as any).__samePage)).toBeUndefined();
  await enterCode(page, await codeFor(request, MAIN, email));
  await expect(page).toHaveURL(/\/account$/);
});

test('when the answer is lost after the code was sent, the plain post sends no second code', async ({ page, request }) => {
  await page.goto('/sign-in');
  await expect(page.locator('html')).toHaveAttribute('data-islands', 'hydrated');
  // The first POST reaches the server and the code goes out, but its answer
  // is lost on the way (a dropped connection), so the form posts the plain
  // way.
  let posts = 0;
  await page.route('**/api/request_code', async (route) => {
    if (posts++ > 0) return route.continue();
    await route.fetch({ maxRedirects: 0 });
    await route.abort('connectionreset');
  });
  const email = uniqueEmail('lost');
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Send code' }).click();
  // The server's limits answer the repeat: the wait, and no second code.
  await expect(page.locator('#identifier-error')).toHaveText(/^You can request a new code in \d+ seconds\.$/);
  expect(posts).toBe(2);
  await codeFor(request, MAIN, email);
  const sent = (await (await request.get(`${MAIN}/dev/outbox.json`)).json()) as { to: string }[];
  expect(sent.filter((m) => m.to === email)).toHaveLength(1);
});

test('a page shown in place is asked for again when it comes back from the cache', async ({ page }) => {
  await page.goto('/sign-in');
  await expect(page.locator('html')).toHaveAttribute('data-islands', 'hydrated');
  await page.getByLabel('Email address').fill(uniqueEmail('cached'));
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await page.evaluate(() => ((window as any).__samePage = true));
  // The document came as the sign-in page, which a cache may keep; the
  // code page it now shows may not be kept, so the server is asked again.
  const reloaded = page.waitForEvent('load');
  await page.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })));
  await reloaded;
  expect(await page.evaluate(() => (window as any).__samePage)).toBeUndefined();
  await expect(page.getByLabel('Code', { exact: true })).toBeVisible();
});

test('a wrong code says so and the right one still works', async ({ page, request }) => {
  const email = uniqueEmail('wrong');
  await requestCode(page, MAIN, email);
  const code = await codeFor(request, MAIN, email);
  await enterCode(page, wrongCode(code));
  await expect(page.locator('#code-error')).toHaveText("That code isn't right. You have 4 tries left.");
  const input = page.getByLabel('Code', { exact: true });
  await expect(input).toBeFocused();
  await expect(input).toHaveAttribute('aria-invalid', 'true');
  await expect(input).toHaveAccessibleDescription(/That code isn't right\. You have 4 tries left\./);
  expect(new URL(page.url()).pathname).toBe('/verify');
  // Typed with a dash, as some messages group the digits.
  await enterCode(page, `${code.slice(0, 3)}-${code.slice(3)}`);
  await expect(page).toHaveURL(/\/account$/);
});

test('a used code cannot sign in again', async ({ page, request, browser }) => {
  const email = uniqueEmail('reuse');
  await requestCode(page, MAIN, email);
  const code = await codeFor(request, MAIN, email);
  const pending = (await page.context().cookies()).find((c) => c.name === '__Host-passcode_pending')!;
  await enterCode(page, code);
  await expect(page).toHaveURL(/\/account$/);

  // Someone replays the same challenge and code in another browser context.
  const other = await browser.newContext();
  await other.addCookies([pending]);
  const replay = await other.newPage();
  await replay.goto(`${MAIN}/verify`);
  await enterCode(replay, code);
  await expect(replay.locator('#code-error')).toHaveText(/already been used/);
  expect(new URL(replay.url()).pathname).toBe('/verify');
  await other.close();
});

test('an expired code is refused and a new one can be sent', async ({ page, request }) => {
  const email = uniqueEmail('expiry');
  await requestCode(page, SHORT_EXPIRY, email);
  const code = await codeFor(request, SHORT_EXPIRY, email);
  // This server's codes live 3 s.
  await page.waitForTimeout(3_500);
  await enterCode(page, code);
  await expect(page.locator('#code-error')).toHaveText('This code has expired. Send a new one.');

  await page.getByRole('button', { name: 'Send a new code' }).click();
  await expect(page.getByRole('status')).toHaveText(/A new code is on its way/);
  await expect(page.locator('#code-error')).toHaveText('');
  const fresh = await codeFor(request, SHORT_EXPIRY, email, code);
  await enterCode(page, fresh);
  await expect(page).toHaveURL(/\/account$/);
});

test('asking again too soon shows the wait, and the button counts down', async ({ page, request }) => {
  const email = uniqueEmail('cooldown');
  await requestCode(page, MAIN, email);
  await codeFor(request, MAIN, email);
  const resend = page.getByRole('button', { name: /Send a new code/ });
  // Right after a code was sent the button is waiting out the cooldown.
  await expect(resend).toBeDisabled();
  await expect(resend).toHaveText(/Send a new code \((2\d|30) seconds\)/);
  const first = Number((await resend.textContent())!.match(/\((\d+) seconds?\)/)![1]);
  await expect
    .poll(async () => Number((await resend.textContent())!.match(/\((\d+) seconds?\)/)?.[1] ?? 0), { timeout: 5_000 })
    .toBeLessThan(first);
  await page.screenshot({ path: `${shots}/code-cooldown.png`, fullPage: true });

  // The sign-in page, asked for the same address again, says how long to wait.
  await page.goto('/sign-in');
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect(page.locator('#identifier-error')).toHaveText(/^You can request a new code in \d+ seconds\.$/);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the whole flow works with plain form posts', async ({ page, request }) => {
    const email = uniqueEmail('nojs');
    await page.goto('/sign-in');
    await page.getByLabel('Email address').fill('not-an-address');
    await page.getByRole('button', { name: 'Send code' }).click();
    await expect(page.locator('#identifier-error')).toHaveText(/Enter an email address like name@example\.com/);

    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Send code' }).click();
    await expect(page).toHaveURL(/\/verify$/);
    const code = await codeFor(request, MAIN, email);

    await enterCode(page, wrongCode(code));
    await expect(page.locator('#code-error')).toHaveText("That code isn't right. You have 4 tries left.");
    await enterCode(page, code);
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByTestId('identity')).toHaveText(email);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/sign-in$/);
    await page.goto('/account');
    await expect(page).toHaveURL(/\/sign-in$/);
  });
});

test('pages pass an accessibility check and fit a 360 px phone', async ({ page, request }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto('/sign-in');
  const scan = await new AxeBuilder({ page }).analyze();
  expect(scan.violations.map((v) => v.id)).toEqual([]);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  expect(overflow).toBe(false);
  await page.screenshot({ path: `${shots}/sign-in-phone.png`, fullPage: true });

  const email = uniqueEmail('a11y');
  await requestCode(page, MAIN, email);
  const verifyScan = await new AxeBuilder({ page }).analyze();
  expect(verifyScan.violations.map((v) => v.id)).toEqual([]);
});

test('dark colour scheme', async ({ browser }) => {
  const context = await browser.newContext({ colorScheme: 'dark', baseURL: MAIN });
  const page = await context.newPage();
  await page.goto('/sign-in');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(bg).toBe('rgb(17, 19, 26)');
  await page.screenshot({ path: `${shots}/sign-in-dark.png`, fullPage: true });
  await context.close();
});

test('the card does not move when hydration completes', async ({ page }) => {
  await page.goto('/sign-in', { waitUntil: 'commit' });
  await page.waitForSelector('.card');
  const before = await page.locator('.card').boundingBox();
  await page.waitForLoadState('networkidle');
  const after = await page.locator('.card').boundingBox();
  expect(after).toEqual(before);
});
