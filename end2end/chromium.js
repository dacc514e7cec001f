// How every browser here is started: Debian's Chromium (Playwright cannot
// download its own on these machines), with the flags a headless run in a
// container needs. Shared by playwright.config.ts and page-weight.mjs.
module.exports.launchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ],
};
