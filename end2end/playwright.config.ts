import { defineConfig } from '@playwright/test';
import * as path from 'path';
const { launchOptions } = require('./chromium.js');
const { STAGE } = require('./stage.js');

// Eight real servers, built by `cargo leptos build` before the suite runs:
// the main one, one whose codes expire after 3 s for the expiry test, one
// with a one-second resend cool-down for two browsers of one person, one
// that trusts a proxy on this machine (strangers from elsewhere), one
// that sends email over SMTP to maildev (a real SMTP server whose REST API
// shows what arrived), one on localhost for passkeys, and two behind real reverse proxies (Caddy and nginx,
// each in front of two small apps) for forward auth. Each gets a fresh data
// directory per run.
const root = path.resolve(__dirname, '..');
const binary = process.env.PASSCODE_BIN ?? path.join(root, 'target', 'debug', 'passcode');
const runDir = path.join(__dirname, '.data', String(Date.now()));

export const MAIN = 'http://127.0.0.1:3100';
export const SHORT_EXPIRY = 'http://127.0.0.1:3101';
export const BY_SMTP = 'http://127.0.0.1:3102';
// Two browsers of one person sign in within seconds: a one-second cool-down.
export const SESSIONS = 'http://127.0.0.1:3103';
// Behind a proxy it trusts (this machine), so a stranger's requests can come
// from elsewhere (X-Forwarded-For); a one-second cool-down so the stranger
// spends what it may within seconds.
export const GUARDED = 'http://127.0.0.1:3106';
// Passkeys need a domain name (WebAuthn refuses an IP address): this one is
// reached as localhost.
export const PASSKEYS = 'http://localhost:3107';
// Not maildev's default ports, so a developer's own maildev can keep running.
const MAILDEV_SMTP = 1125;
export const MAILDEV_WEB = 'http://127.0.0.1:1180';

function server(url: string, name: string, extra: Record<string, string> = {}) {
  const port = new URL(url).port;
  return {
    command: binary,
    cwd: root,
    url: `${url}/sign-in`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore' as const,
    stderr: 'pipe' as const,
    env: {
      PASSCODE_ADDR: `127.0.0.1:${port}`,
      PASSCODE_PUBLIC_URL: url,
      PASSCODE_DATA_DIR: path.join(runDir, name),
      LEPTOS_SITE_ROOT: path.join(root, 'target', 'site'),
      PASSCODE_LOG: 'warn',
      // Every test comes from 127.0.0.1; per-IP limits have their own
      // integration tests.
      PASSCODE_IP_SEND_BURST: '1000',
      PASSCODE_IP_VERIFY_BURST: '1000',
      ...extra,
    },
  };
}

// Passcode behind a proxy for every host under the stage's domain, as
// docs/deploying.md, "Protect an app", sets it up. Codes come from the outbox, read
// directly (never through the proxy) at http://127.0.0.1:<passcodePort>.
function protectedServer(site: { domain: string; port: number; passcodePort: number }, name: string) {
  const s = server(`http://127.0.0.1:${site.passcodePort}`, name, {
    PASSCODE_PUBLIC_URL: `https://login.${site.domain}:${site.port}`,
    PASSCODE_COOKIE_DOMAIN: site.domain,
    PASSCODE_TRUSTED_PROXIES: '127.0.0.1',
    PASSCODE_SECRET: 'ab'.repeat(32),
    PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION: 'true',
    PASSCODE_ACCESS_FILE: path.join(__dirname, 'access.toml'),
    PASSCODE_LOG: 'error',
  });
  return { ...s, url: `http://127.0.0.1:${site.passcodePort}/healthz` };
}

function stagePiece(args: string, port: number) {
  return {
    command: `node ${path.join(__dirname, 'proxies.js')} ${args}`,
    port,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'ignore' as const,
    stderr: 'pipe' as const,
  };
}

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: process.env.CI ? 1 : 0,
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    baseURL: MAIN,
    trace: 'retain-on-failure',
    launchOptions: {
      ...launchOptions,
      // The forward-auth stage's names (login.caddy.test, …) are this machine.
      args: [...launchOptions.args, '--host-resolver-rules=MAP *.test 127.0.0.1'],
    },
  },
  webServer: [
    {
      command: `${path.join(__dirname, 'node_modules', '.bin', 'maildev')} --ip 127.0.0.1 --smtp ${MAILDEV_SMTP} --web ${new URL(MAILDEV_WEB).port}`,
      url: `${MAILDEV_WEB}/email`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: 'ignore' as const,
      stderr: 'pipe' as const,
    },
    server(MAIN, 'main'),
    server(SHORT_EXPIRY, 'short', { PASSCODE_CODE_TTL_SECS: '3', PASSCODE_RESEND_COOLDOWN_SECS: '1' }),
    server(SESSIONS, 'sessions', { PASSCODE_RESEND_COOLDOWN_SECS: '1' }),
    server(GUARDED, 'guarded', {
      PASSCODE_TRUSTED_PROXIES: '127.0.0.1',
      PASSCODE_SECRET: 'cd'.repeat(32),
      PASSCODE_ALLOW_DEV_OUTBOX_IN_PRODUCTION: 'true',
      PASSCODE_RESEND_COOLDOWN_SECS: '1',
    }),
    // A proof stays fresh for 4 s here, so a test can see it go stale.
    {
      ...server(PASSKEYS, 'passkeys', { PASSCODE_FRESH_PROOF_SECS: '4', PASSCODE_RESEND_COOLDOWN_SECS: '1' }),
      url: 'http://127.0.0.1:3107/sign-in',
    },
    server(BY_SMTP, 'smtp', {
      PASSCODE_SMTP_URL: `smtp://127.0.0.1:${MAILDEV_SMTP}`,
      PASSCODE_EMAIL_FROM: 'sign-in@passcode.example',
      PASSCODE_EMAIL_FROM_NAME: 'Passcode',
    }),
    stagePiece(`app ${STAGE.appPorts[0]}`, STAGE.appPorts[0]),
    stagePiece(`app ${STAGE.appPorts[1]}`, STAGE.appPorts[1]),
    protectedServer(STAGE.caddy, 'caddy'),
    protectedServer(STAGE.nginx, 'nginx'),
    stagePiece('caddy', STAGE.caddy.port),
    stagePiece('nginx', STAGE.nginx.port),
  ],
});
