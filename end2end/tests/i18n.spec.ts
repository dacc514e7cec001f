import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { BY_SMTP, codeIn, emailTo, uniqueEmail } from './helpers';

const MAIN = 'http://127.0.0.1:3100';

// The catalogues the server was built from: the words to expect.
const de = require('../../app/locales/de.json');
const fr = require('../../app/locales/fr.json');
const es = require('../../app/locales/es.json');

/** A catalogue message with its arguments filled in. */
function fill(message: string, args: Record<string, string | number>): string {
  return message.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name) => String(args[name]));
}

async function noAxeViolations(page: Page) {
  expect((await new AxeBuilder({ page }).analyze()).violations).toEqual([]);
}

test.describe('a browser that prefers German', () => {
  test.use({ locale: 'de-DE' });

  test('German from the sign-in page to the account page; French from the menu', async ({ page, request }) => {
    const email = uniqueEmail('deutsch');
    await page.clock.install();
    await page.goto(`${BY_SMTP}/sign-in`);
    await expect(page.locator('html')).toHaveAttribute('lang', 'de');
    await expect(page.getByRole('heading', { name: de.sign_in.title })).toBeVisible();
    await noAxeViolations(page);
    await page.getByLabel(de.sign_in.email_label).fill(email);
    await page.getByRole('button', { name: de.buttons.send_code }).click();
    await expect(page).toHaveURL(/\/verify$/);
    await expect(page.getByRole('heading', { name: de.verify.title })).toBeVisible();

    // The countdown counts in German, in German plural forms.
    await expect(page.locator('html')).toHaveAttribute('data-islands', 'hydrated');
    await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 10);
    const resend = page.locator('#resend');
    const left = Number((await resend.textContent())!.match(/\d+/)![0]);
    await page.clock.runFor((left - 5) * 1000);
    await expect(resend).toHaveText(fill(de.buttons.resend_counting_other, { count: 5 }));
    await page.clock.runFor(3000);
    await expect(resend).toHaveText(fill(de.buttons.resend_counting_other, { count: 2 }));
    await page.clock.runFor(1000);
    await expect(resend).toHaveText(fill(de.buttons.resend_counting_one, { count: 1 }));
    await page.clock.runFor(1000);
    await expect(resend).toHaveText(de.buttons.resend);
    await page.clock.resume();
    await noAxeViolations(page);

    // A German email, through a real SMTP server.
    const message = await emailTo(request, email);
    expect(message.subject).toBe(de.email.subject);
    expect(message.text).toContain(fill(de.email.intro, { product: 'Passcode' }));
    expect(message.html).toContain('<html lang="de">');

    await page.getByLabel(de.verify.code_label, { exact: true }).fill(codeIn(message));
    await page.getByRole('button', { name: de.buttons.sign_in, exact: true }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByRole('heading', { name: de.account.title, exact: true })).toBeVisible();
    await expect(page.getByTestId('sign-ins')).toContainText(de.activity.signed_in_code);
    // Dates as German writes them: "3. Dezember 2026, 12:29 UTC".
    const now = new Date();
    const month = de.dates.months[`m${now.getUTCMonth() + 1}`];
    await expect(page.getByTestId('sign-ins')).toContainText(`${now.getUTCDate()}. ${month} ${now.getUTCFullYear()}`);
    await noAxeViolations(page);

    // French from the menu, on the page the person was on.
    await page.getByRole('navigation', { name: de.language_menu }).getByRole('link', { name: 'Français' }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.locator('html')).toHaveAttribute('lang', 'fr');
    await expect(page.getByRole('heading', { name: fr.account.title, exact: true })).toBeVisible();

    // The next code arrives in French.
    await page.getByRole('button', { name: fr.account.sign_out, exact: true }).first().click();
    const second = uniqueEmail('francais');
    await page.goto(`${BY_SMTP}/sign-in`);
    await page.getByLabel(fr.sign_in.email_label).fill(second);
    await page.getByRole('button', { name: fr.buttons.send_code }).click();
    await expect(page).toHaveURL(/\/verify$/);
    const french = await emailTo(request, second);
    expect(french.subject).toBe(fr.email.subject);
    expect(french.text).toContain(fill(fr.email.intro, { product: 'Passcode' }));
  });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false, locale: 'de-DE' });

  test('the language menu still works', async ({ page }) => {
    await page.goto(`${MAIN}/sign-in?with=phone`);
    await expect(page.locator('html')).toHaveAttribute('lang', 'de');
    await page.getByRole('link', { name: 'Español' }).click();
    await expect(page).toHaveURL(/\/sign-in\?with=phone$/);
    await expect(page.locator('html')).toHaveAttribute('lang', 'es');
    await expect(page.getByLabel(es.sign_in.phone_label)).toBeVisible();
    // An error after a plain form post, in Spanish.
    await page.getByLabel(es.sign_in.phone_label).fill('12');
    await page.getByRole('button', { name: es.buttons.send_code }).click();
    await expect(page.getByText(es.errors.identifier_phone)).toBeVisible();
  });
});
