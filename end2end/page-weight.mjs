// Page weight, measured the way a browser loads a page: for each page, a
// fresh Chromium profile (empty cache) opens it, waits until the islands
// have run and the network is quiet, and every response from our server
// (the HTML, scripts, wasm, stylesheet, icon, preloads) is compressed with
// brotli at quality 11 and added up. It also records the bytes each
// response put on the wire (DevTools protocol), for that first load and for
// a repeat visit in the same browser, and checks the compression and cache
// headers. Prints a table per page and exits non-zero when a page is over
// a budget.
//
// Usage: node page-weight.mjs http://127.0.0.1:PORT [--json FILE]
// (scripts/page-weight builds a release site and starts the server.)
import { chromium } from '@playwright/test';
import { brotliCompressSync, constants } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { outbox } from './outbox.mjs';

const { launchOptions } = createRequire(import.meta.url)('./chromium.js');

const base = process.argv[2];
if (!base) {
  console.error('usage: node page-weight.mjs <base URL of a running Passcode in development mode> [--json FILE]');
  process.exit(2);
}
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : undefined;

const KB = 1000;
// The Next.js 16 page with the same form weighs 98 KB brotli; the sign-in
// page must be at most a quarter of it (issue 26), and every other page no
// more: they load the same stylesheet and the same islands.
const PAGES = [
  { name: 'sign-in', path: '/', budget: 25 * KB },
  { name: 'code', path: '/verify', budget: 25 * KB, needs: 'pending' },
  { name: 'link confirmation', path: '/sign-in/confirm', budget: 25 * KB, needs: 'link' },
  { name: 'account', path: '/account', budget: 25 * KB, needs: 'session' },
  // A browser that prefers another language gets the same page in its
  // words (issue 25): German's are among the longest of the four.
  { name: 'sign-in (German)', path: '/', budget: 25 * KB, locale: 'de-DE', lang: 'de' },
  { name: 'code (French)', path: '/verify', budget: 25 * KB, needs: 'pending', locale: 'fr-FR', lang: 'fr' },
];
// Coming back to a page: everything but the page itself comes from the
// browser's cache.
const REPEAT_BUDGET = 10 * KB;

const browser = await chromium.launch(launchOptions);

const email = `weight.${Date.now()}@example.com`;

// One browser goes through sign-in to collect the cookies each page needs;
// the measuring contexts start cold with just those cookies.
let asked = 0;
async function cookiesFor(needs) {
  const context = await browser.newContext();
  const page = await context.newPage();
  // A fresh address each time: a second code to one address would wait.
  const address = `${needs}.${(asked += 1)}.${email}`;
  await page.goto(`${base}/sign-in`);
  await page.getByLabel('Email address').fill(address);
  await page.getByRole('button', { name: 'Send code' }).click();
  await page.waitForURL(/\/verify$/);
  const message = await outbox(base, address);
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

// Opens the page in a new tab of `context` and records, through the
// DevTools protocol, what each response put on the wire (headers and body
// as transferred, DevTools' "transferred" column; a response served from
// the browser's cache puts nothing there). Also fetches, from the page,
// what it references but a headless browser does not load by itself (the
// icon), as a browser window would.
async function open(context, spec) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const wire = new Map();
  const entry = (id) => wire.get(id) ?? wire.set(id, { bytes: 0 }).get(id);
  cdp.on('Network.responseReceived', (e) => {
    Object.assign(entry(e.requestId), { url: e.response.url, status: e.response.status, headers: e.response.headers });
  });
  cdp.on('Network.loadingFinished', (e) => {
    entry(e.requestId).bytes = e.encodedDataLength;
  });
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
  const lang = await page.getAttribute('html', 'lang');
  if (lang !== (spec.lang ?? 'en')) throw new Error(`${spec.name} came in ${lang}, not ${spec.lang ?? 'en'}`);
  // A page with islands has run them when it says so; then nothing else
  // may be left to load.
  try {
    await page.waitForFunction(
      () => !document.querySelector('script[type=module]') || document.documentElement.dataset.islands === 'hydrated',
      undefined,
      { timeout: 15_000 },
    );
  } catch (e) {
    throw new Error(`the islands of ${spec.path} never ran (${failed.join(', ') || e.message}): is the site from the same build as the server?`);
  }
  await page.waitForLoadState('networkidle');
  const fetched = new Set(responses.map((r) => r.url()));
  const referenced = await page.evaluate(() =>
    [...document.querySelectorAll('link[href], script[src]')].map((e) => e.href || e.src),
  );
  for (const href of referenced) {
    if (fetched.has(href)) continue;
    if (new URL(href).origin !== base) throw new Error(`${spec.path} references something elsewhere: ${href}`);
    const status = await page.evaluate(async (h) => (await fetch(h)).status, href);
    if (status !== 200) throw new Error(`${href}, referenced by ${spec.path}, answered ${status}`);
  }
  await page.waitForLoadState('networkidle');
  await cdp.detach();
  return { page, responses, wire: [...wire.values()].filter((w) => w.url) };
}

// A file named after its content must come compressed and be kept for a
// year; a page must come compressed and never be kept by a shared cache;
// an answer the page asks for as it starts (the passkey options for the
// address field's autofill, the code page's approval events) is never
// kept at all. Its bytes count.
const ASKED_BY_THE_PAGE = ['/passkeys/', '/sign-in/approval'];
function checkHeaders(spec, wire) {
  const problems = [];
  for (const w of wire) {
    const url = new URL(w.url);
    const h = Object.fromEntries(Object.entries(w.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const isPage = url.pathname === spec.path;
    if (ASKED_BY_THE_PAGE.some((p) => url.pathname.startsWith(p))) {
      if (!/no-store/.test(h['cache-control'] ?? '')) problems.push(`${url.pathname}: Cache-Control ${h['cache-control']}`);
    } else if (isPage) {
      if (h['content-encoding'] !== 'br') problems.push(`${url.pathname}: not compressed (${h['content-encoding'] ?? 'none'})`);
      if (!/no-cache|no-store/.test(h['cache-control'] ?? '')) problems.push(`${url.pathname}: Cache-Control ${h['cache-control']}`);
    } else {
      if (h['content-encoding'] !== 'br') problems.push(`${url.pathname}: not brotli (${h['content-encoding'] ?? 'none'}): built without --precompress?`);
      if (h['cache-control'] !== 'public, max-age=31536000, immutable') problems.push(`${url.pathname}: Cache-Control ${h['cache-control']}`);
    }
  }
  if (problems.length) throw new Error(`${spec.path}, first load:\n  ${problems.join('\n  ')}`);
}

async function measure(spec) {
  const context = await browser.newContext({ locale: spec.locale ?? 'en-US' });
  if (spec.needs) await context.addCookies(await cookiesFor(spec.needs));
  const cold = await open(context, spec);
  checkHeaders(spec, cold.wire);
  const rows = [];
  for (const r of cold.responses) {
    const url = new URL(r.url());
    if (url.origin !== base) throw new Error(`${spec.path} loaded something from elsewhere: ${r.url()}`);
    if (r.status() >= 300 && r.status() < 400) continue;
    const body = await r.body();
    const brotli = brotliCompressSync(body, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
    }).length;
    const wire = cold.wire.find((w) => w.url === r.url())?.bytes ?? 0;
    rows.push({ what: url.pathname + url.search, type: r.request().resourceType(), raw: body.length, brotli, wire });
  }
  await cold.page.close();
  // The same page again, later, in the same browser: a new tab, so nothing
  // comes from the page's own memory.
  const repeat = await open(context, spec);
  await context.close();
  const sum = (list, key) => list.reduce((s, r) => s + r[key], 0);
  return {
    page: spec.name,
    path: spec.path,
    budget: spec.budget,
    total: sum(rows, 'brotli'),
    wireCold: sum(cold.wire, 'bytes'),
    wireRepeat: sum(repeat.wire, 'bytes'),
    requestsRepeat: repeat.wire.filter((w) => w.bytes > 0).map((w) => new URL(w.url).pathname),
    rows,
  };
}

const results = [];
for (const spec of PAGES) results.push(await measure(spec));
await browser.close();

const pad = (s, n) => String(s).padEnd(n);
const num = (n) => n.toLocaleString('en-GB').padStart(9);
const problems = [];
for (const r of results) {
  if (r.total > r.budget) problems.push(`${r.page}: ${r.total} B brotli, budget ${r.budget} B`);
  if (r.wireCold > r.budget) problems.push(`${r.page}: ${r.wireCold} B on the wire at first load, budget ${r.budget} B`);
  if (r.wireRepeat > REPEAT_BUDGET) problems.push(`${r.page}: ${r.wireRepeat} B on the wire on a repeat visit, budget ${REPEAT_BUDGET} B`);
  console.log(`\n${r.page} (${r.path}): ${r.total.toLocaleString('en-GB')} B brotli q11, budget ${r.budget.toLocaleString('en-GB')} B; on the wire ${r.wireCold.toLocaleString('en-GB')} B at first load, ${r.wireRepeat.toLocaleString('en-GB')} B on a repeat visit (${r.requestsRepeat.join(', ') || 'nothing'} fetched)`);
  console.log(`  ${pad('file', 42)}${pad('type', 12)}${'raw B'.padStart(9)}  ${'brotli B'.padStart(9)}  ${'wire B'.padStart(9)}`);
  for (const row of r.rows) console.log(`  ${pad(row.what, 42)}${pad(row.type, 12)}${num(row.raw)}  ${num(row.brotli)}  ${num(row.wire)}`);
}
const kb = (n) => `${n.toLocaleString('en-GB')} B`;
console.log('\n| page | brotli q11, first load | on the wire, first load | on the wire, repeat visit | budget (first / repeat) |\n|---|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.page} (\`${r.path}\`) | ${kb(r.total)} | ${kb(r.wireCold)} | ${kb(r.wireRepeat)} | ${kb(r.budget)} / ${kb(REPEAT_BUDGET)} |`);
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));
if (problems.length) {
  console.error(`\nover budget:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
