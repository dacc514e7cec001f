import { test, expect } from './fixtures';
import AxeBuilder from '@axe-core/playwright';
import {
  BY_SMTP,
  OutboxMessage,
  codeFor,
  codeIn,
  emailTo,
  enterCode,
  linkIn,
  reportLinkIn,
  requestCode,
  uniqueEmail,
} from './helpers';

// Issue 23: a sign-in asked for on a laptop, approved from a phone that
// opens the email's link; and "Not you?" from a real email and a text.
// Two browser contexts are two devices.
const MAIN = 'http://127.0.0.1:3100';
const shots = 'test-results/screenshots';

test('the phone approves and the laptop signs in without being touched', async ({ page, browser, request }) => {
  const email = uniqueEmail('approve');
  await requestCode(page, BY_SMTP, email);
  await expect(page.locator('html')).toHaveAttribute('data-islands', 'hydrated');
  const number = (await page.getByTestId('pair-number').textContent())!.trim();
  expect(number).toMatch(/^\d\d$/);
  const link = linkIn(await emailTo(request, email));

  const phoneContext = await browser.newContext();
  const phone = await phoneContext.newPage();
  await phone.goto(link);
  await expect(phone.getByTestId('requested-elsewhere')).toBeVisible();
  await expect(phone.getByTestId('pair-number')).toHaveText(number);
  await expect(phone.getByTestId('requested-ip')).toHaveText('127.0.0.1');
  expect((await new AxeBuilder({ page: phone }).analyze()).violations).toEqual([]);
  await phone.screenshot({ path: `${shots}/approve-phone.png`, fullPage: true });
  await page.screenshot({ path: `${shots}/approve-laptop-waiting.png`, fullPage: true });
  await phone.getByRole('button', { name: 'Approve sign-in on that device' }).click();
  await expect(phone).toHaveURL(`${BY_SMTP}/sign-in/approved`);
  await expect(phone.getByRole('heading', { name: 'Sign-in approved' })).toBeVisible();

  // The laptop, untouched, is signed in; the phone is not.
  await expect(page).toHaveURL(/\/account$/, { timeout: 15_000 });
  await expect(page.getByTestId('identity')).toHaveText(email);
  await expect(page.getByText('Signed in, approved from another device')).toBeVisible();
  await phone.goto(`${BY_SMTP}/account`);
  await expect(phone).toHaveURL(/\/sign-in$/);

  // The link was used once: a third device sees so.
  const thirdContext = await browser.newContext();
  const third = await thirdContext.newPage();
  await third.goto(link);
  await expect(third.getByRole('heading', { name: "This link can't be used" })).toBeVisible();
  await phoneContext.close();
  await thirdContext.close();
});

test('"That wasn\'t me" on the phone ends the laptop\'s code', async ({ page, browser, request }) => {
  const email = uniqueEmail('notme');
  await requestCode(page, BY_SMTP, email);
  const message = await emailTo(request, email);
  const phoneContext = await browser.newContext();
  const phone = await phoneContext.newPage();
  await phone.goto(linkIn(message));
  await phone.getByRole('button', { name: "That wasn't me" }).click();
  await expect(phone.getByRole('heading', { name: 'Thanks for telling us' })).toBeVisible();
  await phone.screenshot({ path: `${shots}/not-me-thanks.png`, fullPage: true });
  // To whoever asked, a reported sign-in reads like an expired one: a
  // stranger learns nothing.
  await enterCode(page, codeIn(message));
  await expect(page.locator('#code-error')).toContainText('This code has expired');
  await phoneContext.close();
});

test('without JavaScript the laptop presses "I\'ve approved it"', async ({ browser, request }) => {
  const laptopContext = await browser.newContext({ javaScriptEnabled: false });
  const laptop = await laptopContext.newPage();
  const email = uniqueEmail('approvenojs');
  await requestCode(laptop, BY_SMTP, email);
  const number = (await laptop.getByTestId('pair-number').textContent())!.trim();
  await laptop.getByRole('button', { name: "I've approved it" }).click();
  await expect(laptop.locator('#approval-error')).toContainText('Not approved yet');

  const phoneContext = await browser.newContext({ javaScriptEnabled: false });
  const phone = await phoneContext.newPage();
  await phone.goto(linkIn(await emailTo(request, email)));
  await expect(phone.getByTestId('pair-number')).toHaveText(number);
  await phone.getByRole('button', { name: 'Approve sign-in on that device' }).click();
  await expect(phone).toHaveURL(`${BY_SMTP}/sign-in/approved`);

  await laptop.getByRole('button', { name: "I've approved it" }).click();
  await expect(laptop).toHaveURL(/\/account$/);
  await expect(laptop.getByTestId('identity')).toHaveText(email);
  await laptopContext.close();
  await phoneContext.close();
});

test('"Not you?" from a real email stops a stranger\'s code', async ({ browser, request }) => {
  const email = uniqueEmail('notyou');
  // A stranger asks for a code to someone else's address.
  const strangerContext = await browser.newContext();
  const stranger = await strangerContext.newPage();
  await requestCode(stranger, BY_SMTP, email);
  const message = await emailTo(request, email);
  const report = reportLinkIn(message.text, BY_SMTP);
  expect(message.html).toContain(report);

  // The owner opens "Not you?" from their inbox.
  const ownerContext = await browser.newContext();
  const owner = await ownerContext.newPage();
  await owner.goto(report);
  await expect(owner).toHaveURL(`${BY_SMTP}/not-you`);
  await expect(owner.getByRole('heading', { name: "Didn't ask to sign in?" })).toBeVisible();
  await expect(owner.getByText(/for n•••@example\.com/)).toBeVisible();
  expect((await new AxeBuilder({ page: owner }).analyze()).violations).toEqual([]);
  await owner.screenshot({ path: `${shots}/not-you.png`, fullPage: true });
  await owner.getByRole('button', { name: "That wasn't me" }).click();
  await expect(owner.getByRole('heading', { name: 'Thanks for telling us' })).toBeVisible();
  // Again: nothing more happens.
  await owner.goto(report);
  await expect(owner.getByRole('heading', { name: 'Already reported' })).toBeVisible();

  await enterCode(stranger, codeIn(message));
  await expect(stranger.locator('#code-error')).toContainText('This code has expired');
  await strangerContext.close();
  await ownerContext.close();
});

test('"Not you?" from a text message', async ({ page, browser, request }) => {
  const national = String(Math.floor(Math.random() * 900000) + 100000);
  const phoneNumber = `+4479${national}00`.slice(0, 13);
  await page.goto(`${MAIN}/sign-in?with=phone`);
  await page.getByLabel('Phone number').fill(phoneNumber);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByTestId('pair-number')).toHaveCount(0);
  let text = '';
  await expect
    .poll(async () => {
      const list = (await (await request.get(`${MAIN}/dev/outbox.json`)).json()) as OutboxMessage[];
      text = list.find((m) => m.channel === 'sms' && m.to === phoneNumber)?.body ?? '';
      return text;
    })
    .toContain('/n?t=');
  const code = await codeFor(request, MAIN, phoneNumber);
  const ownerContext = await browser.newContext();
  const owner = await ownerContext.newPage();
  await owner.goto(reportLinkIn(text, MAIN));
  await expect(owner.getByText('by text message')).toBeVisible();
  await owner.getByRole('button', { name: "That wasn't me" }).click();
  await expect(owner.getByRole('heading', { name: 'Thanks for telling us' })).toBeVisible();
  await enterCode(page, code);
  await expect(page.locator('#code-error')).toContainText('This code has expired');
  await ownerContext.close();
});
