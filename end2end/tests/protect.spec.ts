import { APIRequestContext, Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { codeFor, enterCode, uniqueEmail } from './helpers';

const { STAGE } = require('../stage.js');

// Forward auth as a person meets it (docs/deploying.md, "Protect an app"): an app
// behind Caddy or nginx, a sign-in at login.<domain>, and back. The stage
// (end2end/stage.js, end2end/proxies.js) runs the proxy files docs/deploying.md shows.
// Certificates come from Caddy's local CA and a self-signed one for nginx.
test.use({ ignoreHTTPSErrors: true });

const shots = 'test-results/screenshots';

type Site = { name: string; domain: string; port: number; passcodePort: number };

for (const site of [STAGE.caddy, STAGE.nginx] as Site[]) {
  const login = `https://login.${site.domain}:${site.port}`;
  const wiki = `https://wiki.${site.domain}:${site.port}`;
  const grafana = `https://grafana.${site.domain}:${site.port}`;
  const passcode = `http://127.0.0.1:${site.passcodePort}`;
  const protectedPage = `${wiki}/page?x=1&y=two%20words`;

  /** Opens a protected page and lands on the sign-in page, carrying it. */
  async function openProtected(page: Page) {
    await page.goto(protectedPage);
    await expect(page).toHaveURL(`${login}/sign-in?rd=${encodeURIComponent(protectedPage)}`);
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  }

  async function sendCode(page: Page, email: string) {
    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Send code' }).click();
    await expect(page).toHaveURL(`${login}/verify`);
  }

  async function linkFor(request: APIRequestContext, to: string): Promise<string> {
    await codeFor(request, passcode, to);
    const list = (await (await request.get(`${passcode}/dev/outbox.json`)).json()) as { to: string; body: string }[];
    const body = list.find((m) => m.to === to)!.body;
    return body.split(/\s+/).find((w) => w.startsWith(`${login}/sign-in/email-link?token=`))!;
  }

  test.describe(`behind ${site.name}`, () => {
    test('a protected page sends you to sign in with a code and back, and a second app needs no new code', async ({
      page,
      request,
    }) => {
      const email = uniqueEmail('protect');
      await openProtected(page);
      await sendCode(page, email);
      await enterCode(page, await codeFor(request, passcode, email));
      // Back at the exact page, and the app was told who this is.
      await expect(page).toHaveURL(protectedPage);
      await expect(page.getByTestId('email')).toHaveText(email);
      await expect(page.getByTestId('uri')).toHaveText('/page?x=1&y=two%20words');
      await page.screenshot({ path: `${shots}/protect-${site.name}-app.png` });
      // The session cookie is the domain's, Secure, HttpOnly.
      const cookie = (await page.context().cookies(login)).find((c) => c.name === '__Secure-passcode_session');
      expect(cookie).toMatchObject({ domain: `.${site.domain}`, secure: true, httpOnly: true, sameSite: 'Lax' });
      // Another app under the same domain: in at once.
      await page.goto(`${grafana}/`);
      await expect(page.getByTestId('email')).toHaveText(email);
      // The account page lists the wiki (a rule names it) as a place to go.
      await page.goto(`${login}/account`);
      await expect(page.getByRole('link', { name: `wiki.${site.domain}` })).toHaveAttribute('href', `${wiki}/`);
    });

    test('the email link, confirmed in the same browser, comes back too', async ({ page, request }) => {
      const email = uniqueEmail('protectlink');
      await openProtected(page);
      await sendCode(page, email);
      await page.goto(await linkFor(request, email));
      await expect(page).toHaveURL(`${login}/sign-in/confirm`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page).toHaveURL(protectedPage);
      await expect(page.getByTestId('email')).toHaveText(email);
    });

    test('a wrong code first, then the right one, still comes back', async ({ page, request }) => {
      const email = uniqueEmail('protectwrong');
      await openProtected(page);
      await sendCode(page, email);
      const code = await codeFor(request, passcode, email);
      await enterCode(page, [...code].map((c) => String((Number(c) + 1) % 10)).join(''));
      await expect(page.locator('#code-error')).not.toBeEmpty();
      await enterCode(page, code);
      await expect(page).toHaveURL(protectedPage);
    });

    test('an address the rules keep out sees who is signed in and may sign in with another', async ({ page, request }) => {
      const outsider = `outsider.${Date.now()}@elsewhere.example`;
      await openProtected(page);
      await sendCode(page, outsider);
      await enterCode(page, await codeFor(request, passcode, outsider));
      await expect(page).toHaveURL(protectedPage);
      await expect(page.getByRole('heading', { name: "This account can't open this site" })).toBeVisible();
      await expect(page.getByTestId('identity')).toHaveText(outsider);
      await page.screenshot({ path: `${shots}/protect-${site.name}-refused.png` });
      // Another address that may enter: back at the page as that person.
      await page.getByRole('link', { name: 'Sign in with another address' }).click();
      await expect(page).toHaveURL(`${login}/sign-in?rd=${encodeURIComponent(protectedPage)}`);
      const insider = uniqueEmail('insider');
      await sendCode(page, insider);
      await enterCode(page, await codeFor(request, passcode, insider));
      await expect(page).toHaveURL(protectedPage);
      await expect(page.getByTestId('email')).toHaveText(insider);
    });

    test("a script on the app's page without a session gets 401, not a redirect", async ({ page, request }) => {
      const email = uniqueEmail('protectfetch');
      await openProtected(page);
      await sendCode(page, email);
      await enterCode(page, await codeFor(request, passcode, email));
      await expect(page).toHaveURL(protectedPage);
      const signedIn = await page.evaluate(async () => (await fetch('/api/data')).status);
      expect(signedIn).toBe(200);
      await page.context().clearCookies();
      const status = await page.evaluate(async () => {
        const res = await fetch('/api/data', { headers: { accept: 'application/json' } });
        return { status: res.status, redirected: res.redirected };
      });
      expect(status).toEqual({ status: 401, redirected: false });
    });
  });
}
