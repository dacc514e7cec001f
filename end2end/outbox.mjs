// The dev outbox of a running Passcode (`/dev/outbox.json`), for the
// measuring scripts (page-weight.mjs, speed.mjs); the Playwright tests have
// their own in tests/helpers.ts.

/** Waits up to 5 s for a message to `to` at `base` and returns it. */
export async function outbox(base, to) {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${base}/dev/outbox.json`);
    if (!res.ok) throw new Error(`${base}/dev/outbox.json answered ${res.status}: run the server with the dev outbox`);
    const found = (await res.json()).find((m) => m.to === to);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no message to ${to} in the outbox`);
}
