import AxeBuilder from '@axe-core/playwright';
import { createHmac } from 'crypto';
import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { codeFor, enterCode, requestCode, uniqueEmail } from './helpers';

// This server's resend cool-down is one second (playwright.config.ts).
const SESSIONS = 'http://127.0.0.1:3103';

async function axe(page: Page) {
  const scan = await new AxeBuilder({ page }).analyze();
  expect(scan.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(', ')}`)).toEqual([]);
}

/** RFC 4648 base32, as an authenticator app reads the key. */
function base32(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of text.replace(/\s+/g, '')) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The code an authenticator app shows at `ms` (RFC 6238, SHA-1, 6 digits):
 * computed here, as the person's phone would, not by the server. */
function totp(key: Buffer, ms: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 1000 / 30)));
  const hash = createHmac('sha1', key).update(counter).digest();
  const at = hash[19] & 0x0f;
  const n = ((hash[at] & 0x7f) << 24) | (hash[at + 1] << 16) | (hash[at + 2] << 8) | hash[at + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

test('an authenticator app: set up from the account page, then asked for after the code, with JavaScript off too', async ({
  browser,
  request,
}) => {
  const email = uniqueEmail('totp');
  const context = await browser.newContext();
  const page = await context.newPage();
  await requestCode(page, SESSIONS, email);
  const first = await codeFor(request, SESSIONS, email);
  await enterCode(page, first);
  await expect(page).toHaveURL(/\/account$/);

  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await expect(page).toHaveURL(/\/account\/authenticator$/);
  const qr = page.getByRole('img', { name: /QR code for your authenticator app/ });
  await expect(qr).toBeVisible();
  expect(await qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
  await axe(page);
  const key = base32((await page.getByTestId('totp-secret').innerText()).trim());
  expect(key.length).toBe(20);
  // The code that turns it on: its step is then used.
  const used = totp(key, Date.now());
  await page.getByLabel('Code from your app').fill(used);
  await page.getByRole('button', { name: 'Turn on' }).click();
  const backup = page.getByTestId('backup-codes').locator('code');
  await expect(backup).toHaveCount(10);
  await axe(page);
  const codes = await backup.allInnerTexts();
  // Shown once.
  await page.reload();
  await expect(page.getByTestId('backup-codes')).toHaveCount(0);
  await expect(page.getByTestId('authenticator-on')).toBeVisible();

  // Another browser, without JavaScript: the code, then the app's code.
  const noJs = await browser.newContext({ javaScriptEnabled: false });
  const other = await noJs.newPage();
  await new Promise((done) => setTimeout(done, 1100));
  await requestCode(other, SESSIONS, email);
  await enterCode(other, await codeFor(request, SESSIONS, email, first));
  await expect(other).toHaveURL(/\/sign-in\/authenticator$/);
  await expect(other.getByRole('heading', { name: 'Enter your authenticator code' })).toBeVisible();
  await other.goto(`${SESSIONS}/account`);
  await expect(other).toHaveURL(/\/sign-in$/);
  await other.goto(`${SESSIONS}/sign-in/authenticator`);
  // The step used to turn it on is refused (still on the app's screen, or
  // one step old); the next step's (one step of skew) is taken.
  await other.getByLabel('Code from your app').fill(used);
  await other.getByRole('button', { name: 'Sign in' }).click();
  await expect(other.getByText(/That code isn't right. You have 4 tries left/)).toBeVisible();
  await other.getByLabel('Code from your app').fill(totp(key, Date.now() + 30_000));
  await other.getByRole('button', { name: 'Sign in' }).click();
  await expect(other).toHaveURL(/\/account$/);
  await expect(other.getByTestId('sign-ins')).toContainText('Signed in with a code and your authenticator app');
  await expect(other.getByTestId('authenticator-status')).toContainText('10 of 10 backup codes left');

  // With JavaScript: a backup code, as people copy it.
  await page.getByRole('link', { name: 'Back to your account' }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).first().click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await new Promise((done) => setTimeout(done, 1100));
  const before = await codeFor(request, SESSIONS, email);
  await requestCode(page, SESSIONS, email);
  await enterCode(page, await codeFor(request, SESSIONS, email, before));
  await expect(page).toHaveURL(/\/sign-in\/authenticator$/);
  await axe(page);
  // Nothing scrolls sideways on a 360 px phone.
  await page.setViewportSize({ width: 360, height: 740 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await page.getByLabel('Code from your app').fill(codes[0].toUpperCase());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId('authenticator-status')).toContainText('9 of 10 backup codes left');
  await noJs.close();
  await context.close();
});
