// The forward-auth stage: two apps, and for each of Caddy and nginx a
// Passcode server for a domain of its own behind it. Names under .test are
// mapped to 127.0.0.1 by Chromium's --host-resolver-rules (see
// playwright.config.ts); TLS comes from Caddy's local CA and a self-signed
// certificate for nginx, so the Secure domain cookie is real.
const STAGE = {
  appPorts: [3110, 3111],
  caddy: { name: 'Caddy', domain: 'caddy.test', port: 8443, httpPort: 8088, passcodePort: 3104 },
  nginx: { name: 'nginx', domain: 'nginx.test', port: 9443, passcodePort: 3105 },
};
module.exports = { STAGE };
