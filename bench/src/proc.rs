//! What `/proc` says about a process: CPU time and peak memory.

/// CPU seconds (user + system) of one process, all its threads.
pub fn cpu_secs(pid: u32, ticks_per_sec: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may
    // contain spaces: state is the first, utime the 12th, stime the 13th.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?;
    Some(ticks / ticks_per_sec)
}

/// CPU seconds of every process named `name` (the database server's
/// processes: one per connection for Postgres).
pub fn cpu_secs_named(name: &str, ticks_per_sec: f64) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name))
        .filter_map(|pid| cpu_secs(pid, ticks_per_sec))
        .sum()
}

/// The most memory the process has held since it started (VmHWM), in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn ticks_per_sec() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_of_this_process_is_readable() {
        let ticks = ticks_per_sec();
        assert!(ticks > 0.0);
        assert!(cpu_secs(std::process::id(), ticks).is_some());
        assert!(peak_rss_mib(std::process::id()).is_some_and(|mib| mib > 0.0));
    }
}
