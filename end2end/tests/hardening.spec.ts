import { APIRequestContext } from '@playwright/test';
import { test, expect } from './fixtures';
import { codeFor, enterCode, requestCode, uniqueEmail, wrongCode, OutboxMessage } from './helpers';

// The second security review's findings that only a real browser shows:
// Clear-Site-Data honoured at sign-out, and a link swapped in by another
// site while a confirmation page is open.
const MAIN = 'http://127.0.0.1:3100';
const GUARDED = 'http://127.0.0.1:3106';
// Another site, as far as the browser can tell (localhost is not 127.0.0.1):
// one of the small apps of the forward-auth stage.
const ELSEWHERE = 'http://localhost:3110/';

async function newestTo(request: APIRequestContext, base: string, to: string): Promise<OutboxMessage> {
  const list = (await (await request.get(`${base}/dev/outbox.json`)).json()) as OutboxMessage[];
  return list.find((m) => m.to === to)!;
}

function linkIn(message: OutboxMessage): string {
  return message.body.split(/\s+/).find((w) => w.includes('/sign-in/email-link?token='))!;
}

test('a stranger cannot keep the owner out, even after the owner signs out', async ({ page, request, playwright }) => {
  const owner = uniqueEmail('owner');
  // The owner signs in once in this browser, then signs out.
  await requestCode(page, GUARDED, owner);
  await enterCode(page, await codeFor(request, GUARDED, owner));
  await expect(page).toHaveURL(`${GUARDED}/account`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(`${GUARDED}/sign-in`);
  const names = (await page.context().cookies(GUARDED)).map((c) => c.name);
  expect(names, 'Chromium honoured the sign-out').not.toContain('__Host-passcode_session');
  expect(names, 'the device cookie survives sign-out').toContain('__Host-passcode_device');

  // A stranger at 203.0.113.x, one /24, reported by the proxy the server
  // trusts, asks for every code it may and guesses wrong until the address
  // locks.
  let sent = 0;
  let last = '';
  for (let i = 0; i < 12; i++) {
    const stranger = await playwright.request.newContext({
      extraHTTPHeaders: { 'x-forwarded-for': `203.0.113.${7 + (i % 3)}` },
    });
    const res = await stranger.post(`${GUARDED}/api/request_code`, { form: { identifier: owner } });
    if (res.status() === 200) {
      sent++;
      last = await codeFor(request, GUARDED, owner, last);
      for (let guess = 0; guess < 5; guess++) {
        await stranger.post(`${GUARDED}/api/verify_code`, { form: { code: wrongCode(last) } });
      }
    } else {
      expect(res.status()).toBe(429);
      const wait = Number(res.headers()['retry-after']);
      await stranger.dispose();
      if (wait > 60) break;
      await page.waitForTimeout(wait * 1000);
      continue;
    }
    await stranger.dispose();
  }
  expect(sent, 'the stranger spent its share').toBeGreaterThanOrEqual(2);
  const locked = await playwright.request.newContext({ extraHTTPHeaders: { 'x-forwarded-for': '203.0.113.50' } });
  expect((await locked.post(`${GUARDED}/api/request_code`, { form: { identifier: owner } })).status()).toBe(429);
  await locked.dispose();

  // The owner's browser gets a code and signs in at once.
  await requestCode(page, GUARDED, owner);
  await enterCode(page, await codeFor(request, GUARDED, owner, last));
  await expect(page).toHaveURL(`${GUARDED}/account`);
  await expect(page.getByTestId('identity')).toHaveText(owner);
});

test('a link another site opens while the confirmation page is open signs nobody in', async ({
  page,
  context,
  request,
  playwright,
}) => {
  const victim = uniqueEmail('victim');
  const attacker = uniqueEmail('attacker');
  // The attacker asks for a code to their own address and keeps the link.
  const theirs = await playwright.request.newContext();
  expect((await theirs.post(`${MAIN}/api/request_code`, { form: { identifier: attacker } })).status()).toBe(200);
  await codeFor(request, MAIN, attacker);
  const attackersLink = linkIn(await newestTo(request, MAIN, attacker));
  await theirs.dispose();

  // The victim asks for a code and opens their own link: the page names them.
  await requestCode(page, MAIN, victim);
  await codeFor(request, MAIN, victim);
  await page.goto(linkIn(await newestTo(request, MAIN, victim)));
  await expect(page.getByTestId('link-address')).toHaveText(victim);

  // A popup the attacker's page opened earlier sends this browser to the
  // attacker's link, from the attacker's site.
  const popup = await context.newPage();
  await popup.goto(ELSEWHERE);
  await popup.evaluate((link) => {
    window.location.href = link;
  }, attackersLink);
  await expect(popup).toHaveURL(`${MAIN}/sign-in/confirm`);
  await popup.close();

  // The victim presses "Sign in" on the page that showed their address.
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#form-error')).toContainText('changed since this page was shown');
  await expect(page.getByTestId('link-address')).toHaveText(attacker);
  // Nobody is signed in.
  await page.goto(`${MAIN}/account`);
  await expect(page).toHaveURL(/\/sign-in$/);
});
