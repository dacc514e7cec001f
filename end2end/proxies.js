// Runs one piece of the forward-auth stage for the Playwright suite, in the
// foreground, until Playwright stops it:
//   node proxies.js caddy   Debian's Caddy with docs/proxies/Caddyfile
//   node proxies.js nginx   Debian's nginx with docs/proxies/nginx.conf
//   node proxies.js app PORT   the app behind them: a page that shows the
//                              identity headers it was given
// The proxies run the example files docs/deploying.md shows with only example.com, the
// ports and the certificates swapped (the Rust tests in
// server/tests/api/proxies.rs do the same), so the examples can't rot.
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { STAGE } = require('./stage.js');

const root = path.resolve(__dirname, '..');
const which = process.argv[2];

function render(file, site) {
  return fs
    .readFileSync(path.join(root, 'docs', 'proxies', file), 'utf8')
    .replaceAll('example.com', site.domain)
    .replaceAll('127.0.0.1:3000', `127.0.0.1:${site.passcodePort}`)
    .replaceAll('127.0.0.1:8080', `127.0.0.1:${STAGE.appPorts[0]}`)
    .replaceAll('127.0.0.1:8081', `127.0.0.1:${STAGE.appPorts[1]}`);
}

function binary(name) {
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin']) {
    if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(`${name} is not installed: run ./scripts/setup --for-tests`);
}

function run(cmd, args, env = {}) {
  const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill('SIGTERM'));
  child.on('exit', (code) => process.exit(code ?? 1));
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), `passcode-${which}-`));

if (which === 'caddy') {
  const site = STAGE.caddy;
  const globals = `{
\tadmin off
\tlocal_certs
\tskip_install_trust
\thttp_port ${site.httpPort}
\thttps_port ${site.port}
\tstorage file_system ${path.join(dir, 'data')}
}

`;
  fs.writeFileSync(path.join(dir, 'Caddyfile'), globals + render('Caddyfile', site));
  run(binary('caddy'), ['run', '--adapter', 'caddyfile', '--config', path.join(dir, 'Caddyfile')], {
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
  });
} else if (which === 'nginx') {
  const site = STAGE.nginx;
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=passcode test',
    '-keyout', key, '-out', cert, '-addext', `subjectAltName=DNS:${site.domain},DNS:*.${site.domain}`,
  ], { stdio: 'ignore' });
  const servers = render('nginx.conf', site)
    .replaceAll('listen 443 ssl;', `listen 127.0.0.1:${site.port} ssl;`)
    .replaceAll(`/etc/ssl/${site.domain}.crt`, cert)
    .replaceAll(`/etc/ssl/${site.domain}.key`, key);
  const conf = `daemon off;
user root;
pid ${dir}/nginx.pid;
error_log stderr warn;
events {}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${servers}
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  run(binary('nginx'), ['-p', dir, '-c', path.join(dir, 'nginx.conf')]);
} else if (which === 'app') {
  const port = Number(process.argv[3]);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  http
    .createServer((req, res) => {
      if (req.url.startsWith('/api/')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ user: req.headers['remote-user'] ?? null }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>App ${port}</title></head><body>
<h1>An app behind Passcode</h1>
<p>Signed in as <span data-testid="email">${esc(req.headers['remote-email'])}</span><span data-testid="phone">${esc(req.headers['remote-phone'])}</span></p>
<p>Account <span data-testid="user">${esc(req.headers['remote-user'])}</span>, at <span data-testid="uri">${esc(req.url)}</span></p>
</body></html>`);
    })
    .listen(port, '127.0.0.1');
} else {
  console.error('usage: node proxies.js caddy|nginx|app PORT');
  process.exit(2);
}
