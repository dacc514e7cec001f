import { test, expect } from './fixtures';
import AxeBuilder from '@axe-core/playwright';
import { BY_SMTP, MAILDEV, codeIn, emailTo, enterCode, linkIn, requestCode, uniqueEmail } from './helpers';

// The server on 3102 sends email over SMTP to maildev; these tests read what
// arrived through maildev's REST API, as a person reads their inbox.
const shots = 'test-results/screenshots';

test('sign in with a code from a real email', async ({ page, request }) => {
  const email = uniqueEmail('mail');
  await requestCode(page, BY_SMTP, email);
  await expect(page.getByText(/We sent a 6-digit code to m•••@example\.com/)).toBeVisible();
  const message = await emailTo(request, email);
  expect(message.subject).toBe('Your sign-in code');
  expect(message.html).toContain(codeIn(message));

  // What the person sees in their mail client.
  const inbox = await page.context().newPage();
  await inbox.goto(`${MAILDEV}/email/${message.id}/html`);
  await expect(inbox.getByText(codeIn(message))).toBeVisible();
  await inbox.screenshot({ path: `${shots}/email.png`, fullPage: true });
  await inbox.close();

  await enterCode(page, codeIn(message));
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId('identity')).toHaveText(email);
});

test('the link in the email signs in only after pressing the button', async ({ page, browser, request }) => {
  const email = uniqueEmail('link');
  await requestCode(page, BY_SMTP, email);
  const link = linkIn(await emailTo(request, email));

  // Opened in another browser, as from a phone's mail app.
  const other = await browser.newContext();
  const phone = await other.newPage();
  await phone.goto(link);
  await expect(phone).toHaveURL(`${BY_SMTP}/sign-in/confirm`);
  // The whole address, and a word that another device asked for it.
  await expect(phone.getByTestId('link-address')).toHaveText(email);
  await expect(phone.getByTestId('requested-elsewhere')).toContainText('asked for on another device, not in this browser');
  await expect(phone.getByTestId('requested-browser')).toHaveText('Chrome on Linux');
  await phone.screenshot({ path: `${shots}/link-confirm.png`, fullPage: true });
  expect((await new AxeBuilder({ page: phone }).analyze()).violations).toEqual([]);
  // Opening the link signed nobody in.
  expect((await other.cookies()).find((c) => c.name === '__Host-passcode_session')).toBeUndefined();
  await phone.getByRole('button', { name: 'Sign in on this device instead' }).click();
  await expect(phone).toHaveURL(/\/account$/);
  await expect(phone.getByTestId('identity')).toHaveText(email);

  // Used once: opening it again says so, and the code is spent too.
  const thirdContext = await browser.newContext();
  const third = await thirdContext.newPage();
  await third.goto(link);
  await expect(third.getByRole('heading', { name: "This link can't be used" })).toBeVisible();
  await enterCode(page, codeIn(await emailTo(request, email)));
  await expect(page.getByText('This code has already been used.')).toBeVisible();
  await other.close();
  await thirdContext.close();
});

test('switch from a text message to email without starting over', async ({ page, request }) => {
  const national = String(Math.floor(Math.random() * 900) + 100);
  const email = uniqueEmail('switch');
  await page.goto(`${BY_SMTP}/sign-in?with=phone`);
  await page.getByLabel('Phone number').fill(`+44 7911 123${national}`);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByText(/We sent a 6-digit code to \+44/)).toBeVisible();

  await page.getByText('Send the code by email instead').click();
  await page.getByLabel('Email address').fill(email);
  expect((await new AxeBuilder({ page }).analyze()).violations).toEqual([]);
  await page.screenshot({ path: `${shots}/switch-to-email.png`, fullPage: true });
  await page.getByRole('button', { name: 'Email me a code' }).click();
  await expect(page.getByText(/We sent a 6-digit code to s•••@example\.com/)).toBeVisible();
  await expect(page.getByRole('status')).toHaveText('A code is on its way to your email.');
  await expect(page.getByText('Send the code by email instead')).toBeHidden();
  await expect(page.getByLabel('Code', { exact: true })).toBeFocused();
  await page.screenshot({ path: `${shots}/switched-to-email.png`, fullPage: true });

  await enterCode(page, codeIn(await emailTo(request, email)));
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId('identity')).toHaveText(email);
});
