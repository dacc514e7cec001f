import { test, expect } from './fixtures';
import { codeFor, enterCode, requestCode, uniqueEmail } from './helpers';

// This server's resend cool-down is one second (playwright.config.ts).
const SESSIONS = 'http://127.0.0.1:3103';

test('one browser signs the other out', async ({ browser, request }) => {
  const email = uniqueEmail('two');
  const laptopContext = await browser.newContext();
  const phoneContext = await browser.newContext();
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
  await expect(sessions.first()).toContainText(/Chrome on /);
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

test('the CSP listener catches a violation', async ({ page, browser, cspViolations }) => {
  // An inline script without the page's nonce: the policy must block it, and
  // the listener must see that, in the test's own page and in a context the
  // test makes itself.
  const inject = () => {
    const s = document.createElement('script');
    s.textContent = 'document.body.dataset.ran = "yes"';
    document.body.append(s);
  };
  const own = await (await browser.newContext()).newPage();
  for (const [p, tag] of [
    [page, 'default'],
    [own, 'own'],
  ] as const) {
    await p.goto(`${SESSIONS}/sign-in?context=${tag}`);
    await p.evaluate(inject);
    // Reports name the page they came from.
    await expect.poll(() => cspViolations.some((v) => v.includes(`context=${tag}`))).toBe(true);
    expect(await p.evaluate(() => document.body.dataset.ran)).toBeUndefined();
  }
  // Nothing more can arrive from closed pages: what was seen was expected,
  // and the fixture's check after this test must not fail on it.
  await own.context().close();
  await page.close();
  cspViolations.length = 0;
});
