//! A real browser for tests of the web app: the system's Chromium, driven
//! by `playwright-core` from npm through Node.js. The npm package is
//! installed once under the build folder (no browser is downloaded: the
//! system's Chromium is used), and each test runs a CommonJS script of its
//! own with `node`.
//!
//! `PITCREW_TEST_CHROMIUM` names a Chromium to use instead of
//! `/usr/bin/chromium`. Without Node.js, npm or Chromium a test skips with
//! a note, except under `CI=true`, where `missing` fails it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The exact playwright-core version the scripts are written against.
pub const PLAYWRIGHT_CORE: &str = "1.65.1";

/// What a browser test needs: Chromium and a folder whose `node_modules`
/// holds playwright-core.
#[derive(Debug, Clone)]
pub struct Browser {
    pub chromium: PathBuf,
    pub modules: PathBuf,
}

/// Chromium and playwright-core, installing the npm package the first
/// time; `None` (with a note) when something is missing.
pub fn browser() -> Option<Browser> {
    let chromium = chromium()?;
    let modules = playwright_core()?;
    Some(Browser { chromium, modules })
}

/// For a test that got `None` from `browser`: fails it under `CI=true`,
/// otherwise prints a note (and the caller returns).
pub fn missing(what: &str) {
    assert!(
        !crate::in_ci(),
        "CI=true needs Chromium (apt package chromium), Node.js and npm for {what}"
    );
    eprintln!("note: no Chromium, Node.js or npm here; skipping {what}");
}

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PITCREW_TEST_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        eprintln!("note: Chromium is not installed (apt-get install chromium)");
    }
    found
}

/// `target/tmp/playwright-<version>`, with playwright-core installed in it.
fn playwright_core() -> Option<PathBuf> {
    static MAKING: Mutex<()> = Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(|p| p.into_inner());
    let dir = crate::scratch_root().join(format!("playwright-{PLAYWRIGHT_CORE}"));
    if installed(&dir) {
        return Some(dir);
    }
    let _ = std::fs::create_dir_all(&dir);
    let out = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--loglevel=error",
            &format!("playwright-core@{PLAYWRIGHT_CORE}"),
        ])
        .current_dir(&dir)
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "note: npm install playwright-core failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return None;
        }
        Err(e) => {
            eprintln!("note: npm could not run: {e}");
            return None;
        }
    }
    installed(&dir).then_some(dir)
}

fn installed(dir: &Path) -> bool {
    dir.join("node_modules/playwright-core/package.json")
        .exists()
        && Command::new("node")
            .arg("-e")
            .arg("require('playwright-core')")
            .current_dir(dir)
            .env("NODE_PATH", dir.join("node_modules"))
            .output()
            .is_ok_and(|o| o.status.success())
}

impl Browser {
    /// Runs `script` with `node`, with playwright-core on its path and
    /// `CHROMIUM` naming the browser, plus `env`.
    pub fn run(&self, script: &Path, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("node");
        cmd.arg(script)
            .env("NODE_PATH", self.modules.join("node_modules"))
            .env("CHROMIUM", &self.chromium);
        for (k, v) in env {
            cmd.env(k, v);
        }
        match cmd.output() {
            Ok(o) => o,
            Err(e) => panic!("node could not run {}: {e}", script.display()),
        }
    }
}
