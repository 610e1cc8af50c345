//! Set-up shared by every area of the integration tests, one copy rather than one per
//! area: the binary under test, the shipped repository (the examples this checkout ships)
//! and copies of its folders in a temporary directory, and running a command that must
//! succeed; the byte encodings Windows tools write files in. Area-specific set-up (test profiles, served emulators, fleets) stays with its
//! area.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The rampart binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rampart"))
}

/// The shipped repository: this checkout, whose `policies/`, `profiles/` and `schemas/`
/// are the examples. No fallback to another checkout.
pub fn shipped_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    assert!(
        here.join("policies").is_dir(),
        "the shipped examples are missing"
    );
    here
}

/// Copies the tree `from` to `to` (files and folders; `to` is created).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// A temporary repository holding copies of the shipped folders named in `folders`
/// (`"policies"`, `"profiles"`, `"schemas"`); a folder the checkout lacks is skipped.
pub fn shipped_copy(folders: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for d in folders {
        let from = shipped_root().join(d);
        if from.is_dir() {
            copy_dir(&from, &dir.path().join(d));
        }
    }
    dir
}

/// Runs `cmd`, which must exit 0 (else the test fails with its stderr); returns its output.
pub fn succeed(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run the command");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `s` as UTF-16 little-endian with a byte-order mark (what PowerShell 5 and the Intune
/// portal's exports write).
pub fn utf16le(s: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// `s` as UTF-16 big-endian with a byte-order mark.
pub fn utf16be(s: &str) -> Vec<u8> {
    let mut out = vec![0xFE, 0xFF];
    out.extend(s.encode_utf16().flat_map(u16::to_be_bytes));
    out
}

/// `s` as UTF-8 with a byte-order mark and CRLF line ends (Notepad, older editors).
pub fn bom_crlf(s: &str) -> Vec<u8> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    out.extend(s.replace('\n', "\r\n").as_bytes());
    out
}
