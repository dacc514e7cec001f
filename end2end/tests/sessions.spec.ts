import { test, expect, watchCsp } from './fixtures';
import { codeFor, enterCode, requestCode, uniqueEmail } from './helpers';

// This server's resend cool-down is one second (playwright.config.ts).
const SESSIONS = 'http://127.0.0.1:3103';

test('one browser signs the other out', async ({ browser, request, cspViolations }) => {
  const email = uniqueEmail('two');
  const laptopContext = await browser.newContext();
  const phoneContext = await browser.newContext();
  await watchCsp(laptopContext, cspViolations);
  await watchCsp(phoneContext, cspViolations);
  const laptop = await laptopContext.newPage();
  const phone = await phoneContext.newPage();

  await requestCode(laptop, SESSIONS, email);
  const first = await codeFor(request, SESSIONS, email);
  await enterCode(laptop, first);
  await expect(laptop).toHaveURL(/\/account$/);

  await new Promise((done) => setTimeout(done, 1100));
  await requestCode(phone, SESSIONS, email);
  await enterCode(phone, await codeFor(request, SESSIONS, email, first));
  await expect(phone).toHaveURL(/\/account$/);

  // The laptop sees both sessions, its own marked, and ends the phone's.
  await laptop.reload();
  const sessions = laptop.getByTestId('session');
  await expect(sessions).toHaveCount(2);
  await expect(sessions.filter({ hasText: '(this browser)' })).toHaveCount(1);
  await expect(sessions.first()).toContainText('Chrome on Linux');
  await sessions.filter({ hasNotText: '(this browser)' }).getByRole('button', { name: 'Sign out' }).click();
  await expect(laptop).toHaveURL(/\/account$/);
  await expect(laptop.getByTestId('session')).toHaveCount(1);
  // Both sign-ins are in the activity list, newest first.
  const events = laptop.getByTestId('event');
  await expect(events.filter({ hasText: 'Signed in with a code' })).toHaveCount(2);
  await expect(events.first()).toContainText('A session was ended from another browser');

  // The phone is sent to sign in on its next navigation.
  await phone.goto(`${SESSIONS}/account`);
  await expect(phone).toHaveURL(/\/sign-in$/);

  await laptopContext.close();
  await phoneContext.close();
});

test('the CSP listener catches a violation', async ({ page, cspViolations }) => {
  await page.goto(`${SESSIONS}/sign-in`);
  // An inline script without the page's nonce: the policy must block it, and
  // the listener must see that.
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'document.body.dataset.ran = "yes"';
    document.body.append(s);
  });
  await expect.poll(() => cspViolations.length).toBeGreaterThan(0);
  expect(await page.evaluate(() => document.body.dataset.ran)).toBeUndefined();
  // Seen and expected: the fixture's check after this test must not fail on it.
  cspViolations.length = 0;
});
