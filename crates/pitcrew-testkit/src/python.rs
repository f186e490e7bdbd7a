//! Python for tests that check pitcrew against software that is not ours
//! (the official Segment SDK, an SMTP server, a DKIM verifier): one virtual
//! environment per purpose, made once under the build folder and reused.
//!
//! `PITCREW_TEST_PYTHON` names an interpreter to use instead (it must already
//! have the packages). Without Python a test skips with a note, except under
//! `CI=true`, where `missing` fails it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Prints whether each requirement (`name` or `name==version`) is installed;
/// exits non-zero when one is missing. Versions are compared only when
/// `--exact` is given.
const CHECK_PACKAGES: &str = r#"
import sys
from importlib.metadata import version, PackageNotFoundError
exact = sys.argv[1] == "--exact"
for spec in sys.argv[2:]:
    name, _, want = spec.partition("==")
    try:
        got = version(name.strip())
    except PackageNotFoundError:
        sys.exit(1)
    if exact and want and got != want.strip():
        sys.exit(1)
"#;

/// The Python of a virtual environment `name` with `packages` installed from
/// PyPI (pip requirement strings, e.g. `dkimpy` or `aiosmtpd==1.4.6`), made
/// under the build folder's `tmp` the first time; `None` when python3, venv
/// or pip (or the network) is missing.
pub fn venv(name: &str, packages: &[&str]) -> Option<PathBuf> {
    venv_in(&crate::scratch_root(), name, packages)
}

/// `venv` in a folder of the caller's choosing (`root/name`).
pub fn venv_in(root: &Path, name: &str, packages: &[&str]) -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("PITCREW_TEST_PYTHON") {
        let python = PathBuf::from(python);
        if has_packages(&python, packages, false) {
            return Some(python);
        }
        eprintln!(
            "note: PITCREW_TEST_PYTHON={} cannot run or lacks one of {packages:?}",
            python.display()
        );
        return None;
    }
    // Tests of one binary run in parallel; one of them makes the environment.
    static MAKING: Mutex<()> = Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(|p| p.into_inner());
    let dir = root.join(name);
    let python = interpreter(&dir);
    if has_packages(&python, packages, true) {
        return Some(python);
    }
    if !python.exists() {
        let _ = std::fs::create_dir_all(root);
        if !run(
            "python3",
            [OsStr::new("-m"), OsStr::new("venv"), dir.as_os_str()],
        ) {
            return None;
        }
    }
    let mut args = vec![
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ];
    args.extend_from_slice(packages);
    if !run(&python, args.iter().map(OsStr::new)) {
        return None;
    }
    has_packages(&python, packages, true).then_some(python)
}

/// For a test that needs Python and got `None` from `venv`: fails the test
/// under `CI=true`, otherwise prints a note (and the caller returns).
pub fn missing(what: &str) {
    assert!(
        !crate::in_ci(),
        "CI=true needs python3 with venv and pip (or PITCREW_TEST_PYTHON) for {what}"
    );
    eprintln!("note: no python3 with venv and pip (or no network for PyPI); skipping {what}");
}

fn interpreter(dir: &Path) -> PathBuf {
    if cfg!(windows) {
        dir.join("Scripts").join("python.exe")
    } else {
        dir.join("bin").join("python")
    }
}

fn has_packages(python: &Path, packages: &[&str], exact: bool) -> bool {
    let mode = if exact { "--exact" } else { "--names" };
    Command::new(python)
        .args(["-c", CHECK_PACKAGES, mode])
        .args(packages)
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Runs a command quietly; on failure shows what it said.
fn run<I, S>(program: impl AsRef<OsStr>, args: I) -> bool
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = program.as_ref();
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            eprintln!(
                "note: {} failed: {}{}",
                program.to_string_lossy(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            false
        }
        Err(e) => {
            eprintln!("note: {} could not run: {e}", program.to_string_lossy());
            false
        }
    }
}
