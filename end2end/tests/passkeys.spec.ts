import AxeBuilder from '@axe-core/playwright';
import { BrowserContext, CDPSession, Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { codeFor, enterCode, requestCode, uniqueEmail } from './helpers';

// On localhost: WebAuthn needs a domain name (playwright.config.ts).
const PASSKEYS = 'http://localhost:3107';
const OUTBOX = 'http://127.0.0.1:3107';

/** Chromium's virtual authenticator (DevTools `WebAuthn` domain): a
 * platform authenticator with resident keys and user verification that
 * answers without a touch. */
async function authenticator(context: BrowserContext, page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

async function axe(page: Page) {
  const scan = await new AxeBuilder({ page }).analyze();
  expect(scan.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(', ')}`)).toEqual([]);
}

/** Signs out. With the authenticator answering by itself, the sign-in
 * page's autofill request may sign straight back in. */
async function signOut(page: Page, waitForSignIn = true) {
  await page.getByRole('button', { name: 'Sign out', exact: true }).first().click();
  if (waitForSignIn) await expect(page).toHaveURL(/\/sign-in$/);
}

test('a passkey: offered after a code, used from autofill and the button, removed after a fresh proof', async ({
  browser,
  request,
}) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const { cdp, id } = await authenticator(context, page);
  const email = uniqueEmail('passkey');

  // A code first; the browser can make passkeys, so the offer follows.
  await requestCode(page, PASSKEYS, email);
  await enterCode(page, await codeFor(request, OUTBOX, email), { waitForIslands: true });
  await expect(page).toHaveURL(/\/passkeys\/offer$/);
  await expect(page.getByRole('heading', { name: 'Sign in faster next time with a passkey' })).toBeVisible();
  await axe(page);
  await page.getByRole('button', { name: 'Create a passkey' }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByRole('status')).toContainText('Passkey added');
  await expect(page.getByTestId('passkey')).toHaveCount(1);
  await expect(page.getByTestId('passkey')).toContainText(/Chrome on Linux|Chromium/);
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: id });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential).toBe(true);
  await axe(page);

  // Signed out, the sign-in page offers the passkey in the address
  // field's autofill (conditional mediation): the virtual authenticator
  // picks it at once, and the person is in without a code or a click.
  await signOut(page, false);
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId('sign-ins').getByTestId('event').first()).toContainText('Signed in with a passkey');

  // The button does the same in the browser's own dialog. With nobody
  // touching the authenticator the autofill request waits; the button
  // cancels it and asks again, and the touch comes.
  await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: id, enabled: false });
  await signOut(page);
  await expect(page.getByRole('button', { name: 'Sign in with a passkey' })).toBeVisible();
  await page.waitForTimeout(300);
  await expect(page).toHaveURL(/\/sign-in$/);
  await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: id, enabled: true });
  await page.waitForTimeout(300);
  await expect(page).toHaveURL(/\/sign-in$/);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page).toHaveURL(/\/account$/);

  await context.close();
});

test('without a passkey on the device, the button says so and the code still works', async ({ browser, request }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await authenticator(context, page);
  await page.goto(`${PASSKEYS}/sign-in`);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page.locator('#passkey-status')).toContainText('No passkey was used');
  await axe(page);
  const email = uniqueEmail('nopasskey');
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await enterCode(page, await codeFor(request, OUTBOX, email), { waitForIslands: true });
  await expect(page).toHaveURL(/\/passkeys\/offer$/);
  await page.getByRole('button', { name: 'Not now' }).click();
  await expect(page).toHaveURL(/\/account$/);
  await context.close();
});

test('removing a passkey asks for a fresh proof first', async ({ browser, request }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await authenticator(context, page);
  const email = uniqueEmail('remove');
  await requestCode(page, PASSKEYS, email);
  await enterCode(page, await codeFor(request, OUTBOX, email), { waitForIslands: true });
  await page.getByRole('button', { name: 'Create a passkey' }).click();
  await expect(page.getByTestId('passkey')).toHaveCount(1);
  // This server keeps a proof fresh for 4 s: past that, removing asks
  // for a fresh one first, and nothing is removed.
  await page.waitForTimeout(4500);
  await page.getByTestId('passkey').getByRole('button', { name: 'Remove' }).click();
  await expect(page).toHaveURL(/\/account\/confirm$/);
  await expect(page.getByRole('heading', { name: "Confirm it's you" })).toBeVisible();
  await axe(page);
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByRole('status')).toContainText('Thanks');
  await expect(page.getByTestId('passkey')).toHaveCount(1);
  await page.getByTestId('passkey').getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('passkey')).toHaveCount(0);
  await expect(page.getByTestId('sign-ins')).toContainText('Passkey removed');
  // The code flow is untouched (after this server's 1 s cool-down).
  await signOut(page);
  await page.waitForTimeout(1100);
  await requestCode(page, PASSKEYS, email);
  await enterCode(page, await codeFor(request, OUTBOX, email, undefined), { waitForIslands: true });
  await expect(page).toHaveURL(/\/(account|passkeys\/offer)$/);
  await context.close();
});
