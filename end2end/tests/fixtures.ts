import { test as base, expect, BrowserContext } from '@playwright/test';

/**
 * Every test runs with a listener for Content-Security-Policy violations and
 * fails on any: the `securitypolicyviolation` events a page fires and the
 * reports Chromium writes to the console. A violation means the policy
 * blocked something a page needed (or something got onto a page that
 * should not be there).
 */
const watched = new WeakSet<BrowserContext>();

export async function watchCsp(context: BrowserContext, violations: string[]) {
  if (watched.has(context)) return;
  watched.add(context);
  // Injected through the DevTools protocol, so the page's own policy does
  // not apply to it.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation on ${location.href}: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  context.on('console', (msg) => {
    if (/Content Security Policy|CSP violation/i.test(msg.text())) {
      violations.push(`${msg.page()?.url() ?? msg.location().url}: ${msg.text()}`);
    }
  });
}

export const test = base.extend<{ cspViolations: string[] }>({
  // Automatic: every test gets the list and fails at its end if anything
  // landed in it. Contexts a test makes itself with `browser.newContext`
  // are watched as well as the default one.
  cspViolations: [
    async ({ browser }, use) => {
      const violations: string[] = [];
      const newContext = browser.newContext.bind(browser);
      browser.newContext = async (options?: Parameters<typeof newContext>[0]) => {
        const context = await newContext(options);
        await watchCsp(context, violations);
        return context;
      };
      try {
        await use(violations);
      } finally {
        browser.newContext = newContext;
      }
      expect(violations, 'Content-Security-Policy violations').toEqual([]);
    },
    { auto: true },
  ],
  context: async ({ context, cspViolations }, use) => {
    await watchCsp(context, cspViolations);
    await use(context);
  },
});

export { expect };
