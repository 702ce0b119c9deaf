//! A real Kamailio for tests: its configuration from a template kept in the repository (with
//! `@NAME@` placeholders filled in: ports, the modules directory, the control socket), run in
//! the foreground in its own process group on 127.0.0.1, ready when its control socket answers,
//! and stopped — every worker it forked — when dropped. Its log lines (stderr) are watched, so a
//! test can wait for what it did.

use crate::{require_tool, spawn_watched, ChildGuard, LineWatcher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A running Kamailio.
pub struct Kamailio {
    guard: ChildGuard,
    /// `unix:<path>` of its control socket (for `kamcmd -s`).
    pub ctl: String,
    /// The port it listens on (UDP and TCP, 127.0.0.1).
    pub port: u16,
    /// Its log lines.
    pub log: LineWatcher,
    /// How it was started (for `restart`).
    template: PathBuf,
    dir: PathBuf,
    vars: Vec<(String, String)>,
    defines: Vec<String>,
    stopped: bool,
}

/// Debian puts the modules under the multiarch library directory.
fn modules_dir() -> String {
    std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("kamailio/modules"))
        .chain([PathBuf::from("/usr/lib/kamailio/modules")])
        .find(|p| p.join("registrar.so").exists())
        .expect("kamailio modules not found: scripts/install-deps.sh installs kamailio")
        .display()
        .to_string()
}

impl Kamailio {
    /// Start Kamailio with the configuration `template`, its working files in `dir`, listening
    /// on `port`. The template's `@PORT@`, `@MPATH@` and `@CTL@` are filled in, and `@NAME@` for
    /// each of `vars`. Panics (the test fails) when it is not up within 10 s.
    pub fn start(template: &Path, dir: &Path, port: u16, vars: &[(&str, &str)]) -> Kamailio {
        Kamailio::start_defined(template, dir, port, vars, &[])
    }

    /// [`Kamailio::start`] with these preprocessor names defined (`-A NAME`: the template's
    /// `#!ifdef NAME` blocks are in).
    pub fn start_defined(
        template: &Path,
        dir: &Path,
        port: u16,
        vars: &[(&str, &str)],
        defines: &[&str],
    ) -> Kamailio {
        let kam = require_tool("kamailio");
        require_tool("kamcmd");
        let ctl = format!("unix:{}", dir.join("ctl.sock").display());
        let mut cfg = std::fs::read_to_string(template)
            .unwrap_or_else(|e| panic!("{}: {e}", template.display()))
            .replace("@PORT@", &port.to_string())
            .replace("@MPATH@", &modules_dir())
            .replace("@CTL@", &ctl);
        for (name, value) in vars {
            cfg = cfg.replace(&format!("@{name}@"), value);
        }
        let path = dir.join("kamailio.cfg");
        std::fs::write(&path, cfg).unwrap();
        let mut cmd = Command::new(kam);
        // Its own process group, so Drop can stop the workers it forks.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        // A test killed by its time limit never runs its guards: Kamailio (in a group of its own,
        // so the test runner's signal misses it) is told to stop when the test's thread dies.
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.arg("-f")
            .arg(&path)
            .args(["-DD", "-E", "-m", "32", "-M", "4", "-Y"])
            .arg(dir)
            .arg("-w")
            .arg(dir);
        for d in defines {
            cmd.args(["-A", d]);
        }
        let (guard, _out, log) =
            spawn_watched(&format!("kamailio:{port}"), &mut cmd).expect("start kamailio");
        let k = Kamailio {
            guard,
            ctl,
            port,
            log,
            template: template.to_owned(),
            dir: dir.to_owned(),
            vars: vars
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            defines: defines.iter().map(|d| d.to_string()).collect(),
            stopped: false,
        };
        // Ready when its control socket answers (bounded).
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if k.try_kamcmd(&["core.version"]).is_some() {
                return k;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("kamailio did not start");
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn try_kamcmd(&self, args: &[&str]) -> Option<String> {
        Command::new("kamcmd")
            .args(["-s", &self.ctl])
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Run a `kamcmd` command (e.g. `ul.dump`) against this instance; its output.
    pub fn kamcmd(&self, args: &[&str]) -> String {
        self.try_kamcmd(args).unwrap_or_default()
    }
}

impl Kamailio {
    /// Stop it and start it again with the same configuration, port and files (what an
    /// operator's `systemctl restart kamailio` does); its log is a new one.
    pub fn restart(&mut self) {
        self.stop();
        let vars: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let defines: Vec<&str> = self.defines.iter().map(String::as_str).collect();
        let fresh = Kamailio::start_defined(&self.template, &self.dir, self.port, &vars, &defines);
        *self = fresh;
    }

    /// Kamailio forks worker processes; stop the whole process group (SIGTERM, then SIGKILL)
    /// so none outlives the test, and wait for the main process.
    fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let pgid = self.guard.pid();
        let kill = |sig: &str| {
            // The group may be gone already: nothing to report then.
            let _ = Command::new("kill")
                .args([sig, "--", &format!("-{pgid}")])
                .stderr(std::process::Stdio::null())
                .status();
        };
        kill("-TERM");
        let _ = self.guard.wait_timeout(Duration::from_secs(5));
        kill("-KILL");
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
    }
}
