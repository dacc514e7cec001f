import { APIRequestContext, expect, Page } from '@playwright/test';

export type OutboxMessage = {
  to: string;
  channel: string;
  subject: string;
  body: string;
  code: string;
  sent_at: string;
};

/** Waits for a new message to `to` and returns its code. */
export async function codeFor(request: APIRequestContext, base: string, to: string, notCode?: string): Promise<string> {
  let found: string | undefined;
  await expect
    .poll(async () => {
      const res = await request.get(`${base}/dev/outbox.json`);
      const list = (await res.json()) as OutboxMessage[];
      found = list.find((m) => m.to === to)?.code;
      return found !== undefined && found !== notCode;
    })
    .toBe(true);
  return found!;
}

/** A unique address per test so runs never see each other's codes. */
export function uniqueEmail(tag: string): string {
  return `${tag}.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`;
}

export function wrongCode(code: string): string {
  return [...code].map((c) => String((Number(c) + 1) % 10)).join('');
}

export async function requestCode(page: Page, base: string, email: string) {
  await page.goto(`${base}/sign-in`);
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect(page).toHaveURL(/\/verify$/);
}

export async function enterCode(page: Page, code: string, { waitForIslands = false } = {}) {
  // As a person would, where it matters: the page is ready (its islands
  // bound, and whether this device could make a passkey known) well
  // before a code is typed. (Not with JavaScript off: nothing binds.)
  if (waitForIslands) await expect(page.locator('html')).toHaveAttribute('data-islands', 'hydrated');
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// The server on 3102 sends email over SMTP to maildev (playwright.config.ts);
// tests read what arrived through maildev's REST API, as a person reads
// their inbox.
export const BY_SMTP = 'http://127.0.0.1:3102';
export const MAILDEV = 'http://127.0.0.1:1180';

export type Email = { id: string; subject: string; text: string; html: string; to: { address: string }[] };

export async function emailTo(request: APIRequestContext, to: string): Promise<Email> {
  let found: Email | undefined;
  await expect
    .poll(async () => {
      const list = (await (await request.get(`${MAILDEV}/email`)).json()) as Email[];
      found = list.find((e) => e.to.some((r) => r.address === to));
      return found !== undefined;
    })
    .toBe(true);
  return found!;
}

export function codeIn(email: Email): string {
  const line = email.text.split('\n').map((l) => l.trim()).find((l) => /^\d{6}$/.test(l));
  expect(line, 'the code sits on a line of its own').toBeDefined();
  return line!;
}

export function linkIn(email: Email): string {
  const link = email.text.split(/\s+/).find((w) => w.startsWith(`${BY_SMTP}/sign-in/email-link?token=`));
  expect(link, 'the sign-in link uses the configured public URL').toBeDefined();
  return link!;
}

/** The "Not you?" link in a message's text (email or SMS). */
export function reportLinkIn(text: string, base: string): string {
  const link = text.split(/\s+/).find((w) => w.startsWith(`${base}/n?t=`));
  expect(link, 'every message carries a "Not you?" link').toBeDefined();
  return link!;
}
