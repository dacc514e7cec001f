// Page weight, measured the way a browser loads a page: for each page, a
// fresh Chromium profile (empty cache) opens it, waits until the islands
// have run and the network is quiet, and every response from our server
// (the HTML, scripts, wasm, stylesheet, icon, preloads) is compressed with
// brotli at quality 11 and added up. Prints a table per page and exits
// non-zero when a page is over its budget.
//
// Usage: node page-weight.mjs http://127.0.0.1:PORT [--json FILE]
// (scripts/page-weight builds a release site and starts the server.)
import { chromium } from '@playwright/test';
import { brotliCompressSync, constants } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const { launchOptions } = createRequire(import.meta.url)('./chromium.js');

const base = process.argv[2];
if (!base) {
  console.error('usage: node page-weight.mjs <base URL of a running Passcode in development mode> [--json FILE]');
  process.exit(2);
}
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : undefined;

const KB = 1000;
// The Next.js 16 page with the same form weighs 98 KB brotli; the sign-in
// page must be at most half of it, every other page at most the same.
const PAGES = [
  { name: 'sign-in', path: '/', budget: 50 * KB },
  { name: 'code', path: '/verify', budget: 98 * KB, needs: 'pending' },
  { name: 'link confirmation', path: '/sign-in/confirm', budget: 98 * KB, needs: 'link' },
  { name: 'account', path: '/account', budget: 98 * KB, needs: 'session' },
];

const browser = await chromium.launch(launchOptions);

const email = `weight.${Date.now()}@example.com`;

async function outbox(to) {
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${base}/dev/outbox.json`);
    if (!res.ok) throw new Error(`${base}/dev/outbox.json answered ${res.status}: run the server with the dev outbox`);
    const found = (await res.json()).find((m) => m.to === to);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no message to ${to} in the outbox`);
}

// One browser goes through sign-in to collect the cookies each page needs;
// the measuring contexts start cold with just those cookies.
async function cookiesFor(needs) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const address = `${needs}.${email}`;
  await page.goto(`${base}/sign-in`);
  await page.getByLabel('Email address').fill(address);
  await page.getByRole('button', { name: 'Send code' }).click();
  await page.waitForURL(/\/verify$/);
  const message = await outbox(address);
  if (needs === 'session') {
    await page.getByLabel('Code', { exact: true }).fill(message.code);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/account$/);
  }
  let cookies = await context.cookies();
  if (needs === 'link') {
    // The link opened in another browser, as from a phone's mail app.
    const link = message.body.split(/\s+/).find((w) => w.includes('/sign-in/email-link?token='));
    const other = await browser.newContext();
    const res = await other.request.get(link, { maxRedirects: 0 });
    if (res.status() >= 400) throw new Error(`the sign-in link answered ${res.status()}`);
    cookies = await other.cookies();
    await other.close();
  }
  await context.close();
  return cookies;
}

async function measure(spec) {
  const context = await browser.newContext();
  if (spec.needs) await context.addCookies(await cookiesFor(spec.needs));
  const page = await context.newPage();
  const responses = [];
  const failed = [];
  page.on('response', (r) => {
    responses.push(r);
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
  });
  const res = await page.goto(`${base}${spec.path}`);
  if (!res || res.status() !== 200 || new URL(page.url()).pathname !== spec.path) {
    throw new Error(`${spec.path} did not load as itself (${res?.status()} at ${page.url()})`);
  }
  // A page with islands has run them when it says so; then nothing else
  // may be left to load.
  try {
    await page.waitForFunction(
      () => !document.querySelector('leptos-island') || document.documentElement.dataset.islands === 'hydrated',
      undefined,
      { timeout: 15_000 },
    );
  } catch (e) {
    throw new Error(`the islands of ${spec.path} never ran (${failed.join(', ') || e.message}): is the site from the same build as the server?`);
  }
  await page.waitForLoadState('networkidle');
  const rows = [];
  const seen = new Set();
  const add = (url, type, body) => {
    seen.add(url.href);
    const brotli = brotliCompressSync(body, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
    }).length;
    rows.push({ what: url.pathname + url.search, type, raw: body.length, brotli });
  };
  for (const r of responses) {
    const url = new URL(r.url());
    if (url.origin !== base) throw new Error(`${spec.path} loaded something from elsewhere: ${r.url()}`);
    if (r.status() >= 300 && r.status() < 400) continue;
    add(url, r.request().resourceType(), await r.body());
  }
  // What the page references but a headless browser may not fetch (the
  // icon, for one) counts too.
  const referenced = await page.evaluate(() =>
    [...document.querySelectorAll('link[href], script[src]')].map((e) => e.href || e.src),
  );
  for (const href of referenced) {
    const url = new URL(href);
    if (seen.has(url.href)) continue;
    if (url.origin !== base) throw new Error(`${spec.path} references something elsewhere: ${href}`);
    const res = await context.request.get(href);
    if (!res.ok()) throw new Error(`${href}, referenced by ${spec.path}, answered ${res.status()}`);
    add(url, 'referenced', await res.body());
  }
  await context.close();
  const total = rows.reduce((s, r) => s + r.brotli, 0);
  return { page: spec.name, path: spec.path, budget: spec.budget, total, rows };
}

const results = [];
for (const spec of PAGES) results.push(await measure(spec));
await browser.close();

const pad = (s, n) => String(s).padEnd(n);
const num = (n) => n.toLocaleString('en-GB').padStart(9);
let over = false;
for (const r of results) {
  const ok = r.total <= r.budget;
  over ||= !ok;
  console.log(`\n${r.page} (${r.path}): ${num(r.total)} B brotli, budget ${r.budget.toLocaleString('en-GB')} B: ${ok ? 'ok' : 'OVER BUDGET'}`);
  console.log(`  ${pad('file', 34)}${pad('type', 12)}${'raw B'.padStart(9)}  ${'brotli B'.padStart(9)}`);
  for (const row of r.rows) console.log(`  ${pad(row.what, 34)}${pad(row.type, 12)}${num(row.raw)}  ${num(row.brotli)}`);
}
console.log('\n| page | brotli, first load | budget |\n|---|---:|---:|');
for (const r of results) console.log(`| ${r.page} (\`${r.path}\`) | ${r.total.toLocaleString('en-GB')} B | ${r.budget.toLocaleString('en-GB')} B |`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));
if (over) {
  console.error('\nover budget: see the table above');
  process.exit(1);
}
