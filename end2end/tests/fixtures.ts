import { test as base, expect, BrowserContext } from '@playwright/test';

/**
 * Every test runs with a listener for Content-Security-Policy violations and
 * fails on any: the `securitypolicyviolation` events a page fires and the
 * reports Chromium writes to the console. A violation means the policy
 * blocked something a page needed (or something got onto a page that
 * should not be there).
 */
export async function watchCsp(context: BrowserContext, violations: string[]) {
  // Injected through the DevTools protocol, so the page's own policy does
  // not apply to it.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  context.on('console', (msg) => {
    if (/Content Security Policy|CSP violation/i.test(msg.text())) {
      violations.push(`${msg.location().url}: ${msg.text()}`);
    }
  });
}

export const test = base.extend<{ cspViolations: string[] }>({
  cspViolations: async ({}, use) => {
    await use([]);
  },
  context: async ({ context, cspViolations }, use) => {
    await watchCsp(context, cspViolations);
    await use(context);
    expect(cspViolations, 'Content-Security-Policy violations').toEqual([]);
  },
});

export { expect };
