//! The processes the fault run and the scale curve start, each in the run's
//! temporary directory on spare loopback ports, so the machine's own
//! Postgres and Redis are never touched: a Postgres cluster of its own
//! (`initdb`, `pg_ctl`), a redis-server, Passcode instances and Caddy in
//! front of them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs `cmd` to the end, failing with its output if it fails. On the
/// runtime, its worker thread is handed over first: `pg_ctl` takes seconds,
/// and the load keeps running meanwhile.
fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::task::block_in_place(|| cmd.output()),
        Err(_) => cmd.output(),
    }
    .with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Waits until something accepts TCP connections on `port`.
pub async fn wait_for_port(port: u16, within: Duration, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() > deadline {
            bail!("{what} did not open port {port} within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A Postgres cluster of the run's own. Postgres refuses to run as root,
/// so as root its commands run as the `postgres` user.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

impl Postgres {
    pub fn init(dir: &Path) -> anyhow::Result<Self> {
        let bin = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| PathBuf::from(s.trim()))
            .filter(|p| p.join("initdb").exists())
            .context("pg_config --bindir names no directory with initdb (Debian: postgresql)")?;
        let data = dir.join("pg");
        std::fs::create_dir_all(&data)?;
        // Owned by root: this process runs as root.
        let as_postgres = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self")?) == 0;
        if as_postgres {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir))?;
        }
        let pg = Self { bin, log: dir.join("postgres.log"), data, port: free_port()?, as_postgres };
        run(pg
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"])
            .arg(&pg.data))?;
        Ok(pg)
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn start(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off -c max_connections=100",
            self.port,
            self.data.display()
        );
        run(self
            .command("pg_ctl")
            .args(["-w", "-t", "30", "-D"])
            .arg(&self.data)
            .args(["-l"])
            .arg(&self.log)
            .args(["-o", &options, "start"]))
    }

    /// Stops as a restart for maintenance does (`-m fast`): every
    /// connection is cut and nothing new is accepted until `start`.
    pub fn stop(&self) -> anyhow::Result<()> {
        run(self.command("pg_ctl").args(["-w", "-t", "30", "-m", "fast", "-D"]).arg(&self.data).arg("stop"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-w", "-m", "immediate", "-D"]).arg(&self.data).arg("stop").output();
    }
}

/// A child process that is killed when dropped.
pub struct Process {
    child: Option<Child>,
    pub name: String,
}

impl Process {
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path) -> anyhow::Result<Self> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        cmd.stdout(Stdio::from(log.try_clone()?)).stderr(Stdio::from(log)).stdin(Stdio::null());
        let child = cmd.spawn().with_context(|| format!("starting {name}: {cmd:?}"))?;
        Ok(Self { child: Some(child), name: name.to_owned() })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self.pid().context("not running")?;
        run(Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()))
    }

    /// Waits for the process to end (after a signal), at most `within`.
    pub async fn wait(&mut self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        let Some(child) = self.child.as_mut() else { return Ok(()) };
        loop {
            if child.try_wait()?.is_some() {
                self.child = None;
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} still running {within:?} after it was told to stop", self.name);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn exited(&mut self) -> bool {
        self.child.as_mut().is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    process: Option<Process>,
}

impl Redis {
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let dir = dir.join("redis");
        std::fs::create_dir_all(&dir)?;
        let mut redis = Self { port: free_port()?, dir, process: None };
        redis.up().await?;
        Ok(redis)
    }

    pub async fn up(&mut self) -> anyhow::Result<()> {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir);
        self.process = Some(Process::spawn("redis-server", &mut cmd, &self.dir.join("redis.log"))?);
        wait_for_port(self.port, Duration::from_secs(10), "redis-server").await
    }

    pub async fn down(&mut self) -> anyhow::Result<()> {
        if let Some(mut p) = self.process.take() {
            p.signal("KILL")?;
            p.wait(Duration::from_secs(10)).await?;
        }
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

/// One Passcode instance: its settings stay, so it can be started again on
/// the same port after it was killed.
pub struct Instance {
    pub port: u16,
    bin: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    pub process: Option<Process>,
}

impl Instance {
    pub fn new(bin: &Path, env: Vec<(String, String)>, log: PathBuf) -> anyhow::Result<Self> {
        Ok(Self { port: free_port()?, bin: bin.to_owned(), env, log, process: None })
    }

    pub async fn up(&mut self) -> anyhow::Result<()> {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PASSCODE_ADDR", format!("127.0.0.1:{}", self.port));
        self.process = Some(Process::spawn("passcode", &mut cmd, &self.log)?);
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build()?;
        loop {
            let ready = client.get(format!("http://127.0.0.1:{}/readyz", self.port)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if self.process.as_mut().is_none_or(Process::exited) || Instant::now() > deadline {
                bail!("passcode on port {} did not become ready; see {}", self.port, self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(Process::pid)
    }

    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut p) = self.process.take() {
            p.signal("KILL")?;
            p.wait(Duration::from_secs(10)).await?;
        }
        Ok(())
    }
}

/// Caddy in front of the instances: round robin, `/readyz` checked every
/// second, a request that can't reach an instance tried on another for up
/// to 5 s, and an instance that can't be reached answered for with a 503
/// (the Caddyfile is docs/proxies/Caddyfile.instances).
pub struct Caddy {
    process: Process,
}

impl Caddy {
    /// Listens on `port` (plain HTTP), in front of the `upstreams` ports.
    pub async fn start(dir: &Path, template: &str, port: u16, upstreams: &[u16]) -> anyhow::Result<Self> {
        let dir = dir.join("caddy");
        std::fs::create_dir_all(&dir)?;
        let upstreams: Vec<String> = upstreams.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let config = format!("{{\n\tadmin off\n\tauto_https off\n\tstorage file_system {}\n}}\n\n", dir.display())
            + &template
                .replace("login.example.com", &format!("http://127.0.0.1:{port}"))
                .replace("passcode-1:3000 passcode-2:3000", &upstreams.join(" "));
        let file = dir.join("Caddyfile");
        std::fs::write(&file, config)?;
        let mut cmd = Command::new("caddy");
        cmd.args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("HOME", &dir)
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"));
        let process = Process::spawn("caddy", &mut cmd, &dir.join("caddy.log"))?;
        wait_for_port(port, Duration::from_secs(20), "caddy").await?;
        Ok(Self { process })
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }
}

/// A stand-in for the built front end: production rules want one on disk,
/// and neither the fault run nor the scale curve asks for a page or an
/// asset.
pub fn stand_in_site(dir: &Path) -> anyhow::Result<PathBuf> {
    let site = dir.join("site");
    for (name, bytes) in [
        ("pkg/passcode.js", &b"export default async function init() {}\n"[..]),
        ("pkg/passcode.wasm", &b"\0asm\x01\0\0\0"[..]),
        ("pkg/passcode.css", &b"body { margin: 0 }\n"[..]),
        ("favicon.svg", &br#"<svg xmlns="http://www.w3.org/2000/svg"/>"#[..]),
    ] {
        let path = site.join(name);
        std::fs::create_dir_all(path.parent().context("a file in a folder")?)?;
        std::fs::write(path, bytes)?;
    }
    Ok(site)
}

/// The Caddyfile the tests and measurements run, as docs/ recommends it.
pub const CADDYFILE: &str = include_str!("../../docs/proxies/Caddyfile.instances");

/// Per-IP limits raised out of the way: behind the proxy, the load
/// generator is one client (127.0.0.1) making everybody's requests.
pub const ONE_CLIENT_LIMITS: [(&str, &str); 4] = [
    ("PASSCODE_IP_SENDS_PER_10_MIN", "600000"),
    ("PASSCODE_IP_SEND_BURST", "100000"),
    ("PASSCODE_IP_VERIFIES_PER_10_MIN", "600000"),
    ("PASSCODE_IP_VERIFY_BURST", "100000"),
];

/// A server secret for a run: the same on every instance, never a real one.
pub fn run_secret() -> String {
    (0..32).map(|i| format!("{:02x}", (i * 37 + 11) % 256)).collect()
}
