//! Reading and writing user files: the one door through which rampart touches a file of the
//! policy repository (YAML documents, KQL query files, profiles it edits) and the exported
//! JSON it imports. Two jobs, done the same way for every caller:
//!
//! - **Decoding.** Files come from Windows tools and PowerShell as often as from editors:
//!   UTF-8 with or without a byte-order mark, UTF-16 LE or BE with a BOM (22 of 155 real
//!   Intune exports are UTF-16), and CRLF line ends. [`decode`] turns all of them into one
//!   `String` with `\n` line ends, so spans, plans and digests are the same whatever tool
//!   wrote the file. UTF-16 without a BOM is recognised only when the first character is
//!   ASCII (a JSON export starts with `{` or `[`, a YAML file with a key or `-`), which a
//!   NUL byte in the first two bytes betrays. Other encodings (Windows-1252, UTF-32) are
//!   refused with the byte offset of the first bad sequence rather than guessed.
//! - **Containment.** Every path is resolved (symlinks followed) and must lie under the
//!   repository root, itself resolved: a symlink `policies/x.kql -> /proc/self/environ`, a
//!   symlinked folder leading out, or `../elsewhere.yaml` is an [`FileError::Outside`], and
//!   nothing is read from or written to it.
//!
//! Limits: the check and the open are two system calls, so a symlink swapped between them
//! by someone who can already write the repository is not caught (no `openat2`
//! `RESOLVE_BENEATH` on every platform). Writes are atomic (temporary file, fsync, rename)
//! and keep the file's encoding family: a file read with CRLF line ends is written with CRLF.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

/// The encoding a file was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
}

impl Encoding {
    /// The name users know it by, as editors show it.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::Utf16Le => "UTF-16 LE",
            Encoding::Utf16Be => "UTF-16 BE",
        }
    }
}

/// A decoded file: its text with `\n` line ends, and how it was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub encoding: Encoding,
    /// Whether the file used CRLF line ends (then converted to `\n`).
    pub crlf: bool,
}

/// Why bytes are not text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not valid {}", encoding.name())]
pub struct DecodeError {
    pub encoding: Encoding,
    /// Byte offset of the first bad sequence in the file as stored (in the message of
    /// callers that have no span to point at).
    pub offset: usize,
}

/// Decodes a user file: UTF-8 (BOM or not), UTF-16 LE/BE (BOM, or BOM-less when the first
/// character is ASCII); CRLF and lone CR become `\n`.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let (encoding, text) = if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        (Encoding::Utf8Bom, utf8(rest, 3, Encoding::Utf8Bom)?)
    } else if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        (Encoding::Utf16Le, utf16(rest, 2, Encoding::Utf16Le)?)
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        (Encoding::Utf16Be, utf16(rest, 2, Encoding::Utf16Be)?)
    } else if bytes.len() >= 2 && bytes[0] != 0 && bytes[0].is_ascii() && bytes[1] == 0 {
        (Encoding::Utf16Le, utf16(bytes, 0, Encoding::Utf16Le)?)
    } else if bytes.len() >= 2 && bytes[0] == 0 && bytes[1] != 0 && bytes[1].is_ascii() {
        (Encoding::Utf16Be, utf16(bytes, 0, Encoding::Utf16Be)?)
    } else {
        (Encoding::Utf8, utf8(bytes, 0, Encoding::Utf8)?)
    };
    // A BOM inside UTF-16 text decodes to U+FEFF; drop a second one (some tools write two).
    let text = text
        .strip_prefix('\u{feff}')
        .map_or(text.clone(), str::to_string);
    let crlf = text.contains("\r\n");
    let text = if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    };
    Ok(Decoded {
        text,
        encoding,
        crlf,
    })
}

fn utf8(bytes: &[u8], skipped: usize, encoding: Encoding) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|e| DecodeError {
        encoding,
        offset: skipped + e.utf8_error().valid_up_to(),
    })
}

fn utf16(bytes: &[u8], skipped: usize, encoding: Encoding) -> Result<String, DecodeError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(DecodeError {
            encoding,
            offset: skipped + bytes.len() - 1,
        });
    }
    let units = bytes.chunks_exact(2).map(|c| match encoding {
        Encoding::Utf16Be => u16::from_be_bytes([c[0], c[1]]),
        _ => u16::from_le_bytes([c[0], c[1]]),
    });
    let mut out = String::with_capacity(bytes.len() / 2);
    let mut at = skipped;
    for r in char::decode_utf16(units) {
        match r {
            Ok(c) => {
                at += 2 * c.len_utf16();
                out.push(c);
            }
            Err(_) => {
                return Err(DecodeError {
                    encoding,
                    offset: at,
                });
            }
        }
    }
    Ok(out)
}

/// Why a user file could not be read or written. `path` is as the user named it (relative
/// to the repository root when under it).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{path}`")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` resolves to `{}`, outside the repository root `{}`", target.display(), root.display())]
    Outside {
        path: String,
        target: PathBuf,
        root: PathBuf,
    },
    #[error("`{path}` is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("`{path}` is {source} (first bad byte at offset {})", source.offset)]
    Decode {
        path: String,
        #[source]
        source: DecodeError,
    },
}

impl FileError {
    /// A stable kebab-case code for diagnostics.
    pub fn code(&self) -> &'static str {
        match self {
            FileError::Read { .. } | FileError::Write { .. } => "io-error",
            FileError::Outside { .. } => "outside-repository",
            FileError::TooLarge { .. } => "file-too-large",
            FileError::Decode { .. } => "invalid-encoding",
        }
    }

    /// The message without the path (for a diagnostic already located at the file), with
    /// the cause appended.
    pub fn message(&self) -> String {
        match self {
            FileError::Read { source, .. } => format!("cannot read the file: {source}"),
            FileError::Write { source, .. } => format!("cannot write the file: {source}"),
            FileError::Outside { target, root, .. } => format!(
                "the path resolves to `{}`, outside the repository root `{}`",
                target.display(),
                root.display()
            ),
            FileError::TooLarge { size, limit, .. } => {
                format!("file is {size} bytes, more than the limit of {limit} bytes")
            }
            FileError::Decode { source, .. } => format!("file is {source}"),
        }
    }

    /// The byte offset in the file the error is at, when there is one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            FileError::Decode { source, .. } => Some(source.offset),
            _ => None,
        }
    }
}

/// Largest user file read, in bytes (policy files and exports are far smaller).
pub const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// A repository root, resolved once, through which files are read and written.
#[derive(Clone, Debug)]
pub struct Repo {
    /// The root as given (for display and joining).
    given: PathBuf,
    /// The root with symlinks resolved, absolute.
    real: PathBuf,
}

impl Repo {
    /// Opens the repository at `root` (any relative or absolute path to a directory).
    pub fn open(root: &Path) -> Result<Repo, FileError> {
        let real = std::fs::canonicalize(root).map_err(|source| FileError::Read {
            path: root.display().to_string(),
            source,
        })?;
        Ok(Repo {
            given: root.to_path_buf(),
            real,
        })
    }

    /// The root as given.
    pub fn root(&self) -> &Path {
        &self.given
    }

    /// The root with symlinks resolved.
    pub fn real_root(&self) -> &Path {
        &self.real
    }

    /// `path` as shown to users: relative to the root when under it, `/` separators.
    pub fn display(&self, path: &Path) -> String {
        let shown = path
            .strip_prefix(&self.given)
            .ok()
            .or_else(|| path.strip_prefix(&self.real).ok())
            .unwrap_or(path);
        let s = shown.to_string_lossy().replace('\\', "/");
        s.strip_prefix("./").map(str::to_string).unwrap_or(s)
    }

    /// Where `path` really is, checked to lie under the root. `path` need not exist; then
    /// its nearest existing ancestor is resolved and the rest appended (`..` in the rest is
    /// refused as outside).
    pub fn contain(&self, path: &Path) -> Result<PathBuf, FileError> {
        self.contain_at(path, 0)
    }

    /// [`Repo::contain`], `depth` dangling symlinks deep (a loop of them ends as outside).
    fn contain_at(&self, path: &Path, depth: u32) -> Result<PathBuf, FileError> {
        let outside = |target: PathBuf| FileError::Outside {
            path: self.display(path),
            target,
            root: self.real.clone(),
        };
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|source| FileError::Read {
                    path: self.display(path),
                    source,
                })?
                .join(path)
        };
        let mut existing = absolute.as_path();
        let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
        let real = loop {
            match std::fs::canonicalize(existing) {
                Ok(r) => break r,
                // A dangling symlink: where it points is where a write would go.
                Err(_)
                    if std::fs::symlink_metadata(existing).is_ok_and(|m| m.is_symlink())
                        && depth < 40 =>
                {
                    let target =
                        std::fs::read_link(existing).map_err(|source| FileError::Read {
                            path: self.display(path),
                            source,
                        })?;
                    let mut next = existing.parent().unwrap_or(Path::new("/")).join(target);
                    for part in rest.iter().rev() {
                        next.push(part);
                    }
                    return self.contain_at(&next, depth + 1).map_err(|e| match e {
                        FileError::Outside { target, root, .. } => FileError::Outside {
                            path: self.display(path),
                            target,
                            root,
                        },
                        e => e,
                    });
                }
                Err(_) => {
                    let Some(parent) = existing.parent() else {
                        return Err(outside(absolute.clone()));
                    };
                    match existing.components().next_back() {
                        Some(Component::Normal(n)) => rest.push(n),
                        _ => return Err(outside(absolute.clone())),
                    }
                    existing = parent;
                }
            }
        };
        let mut real = real;
        for part in rest.into_iter().rev() {
            real.push(part);
        }
        if real.starts_with(&self.real) {
            Ok(real)
        } else {
            Err(outside(real))
        }
    }

    /// Where an output file (a saved plan, an apply report, the HTML report, imported YAML)
    /// really goes, checked: a relative path (as a pipeline writes `plan.json` next to the
    /// checkout) and any path under the repository must resolve inside the root after
    /// following symlinks, so neither `../x` nor a symlink committed to the repository
    /// (`plan.json -> ~/.ssh/authorized_keys`) can lead a write out of it. An absolute path
    /// outside the repository is the operator's explicit choice (a CI runner's temporary
    /// directory) and is written as given. The path need not exist.
    pub fn contain_output(&self, path: &Path) -> Result<PathBuf, FileError> {
        match self.contain(path) {
            Ok(real) => Ok(real),
            Err(e @ FileError::Outside { .. }) => {
                let explicit = path.is_absolute() && {
                    let lexical = lexically_normal(path);
                    let given = std::env::current_dir()
                        .map(|d| lexically_normal(&d.join(&self.given)))
                        .unwrap_or_else(|_| self.given.clone());
                    !lexical.starts_with(&given) && !lexical.starts_with(&self.real)
                };
                if explicit {
                    Ok(path.to_path_buf())
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Writes an output file (see [`Repo::contain_output`]) atomically, creating its
    /// directory.
    pub fn write_output(&self, path: &Path, text: &str) -> Result<(), FileError> {
        self.write_output_bytes(path, text.as_bytes())
    }

    /// As [`Repo::write_output`], for bytes that are not text (a gzip-compressed plan).
    pub fn write_output_bytes(&self, path: &Path, bytes: &[u8]) -> Result<(), FileError> {
        let real = self.contain_output(path)?;
        let write = |source| FileError::Write {
            path: self.display(path),
            source,
        };
        if let Some(dir) = real.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        write_bytes_atomically(&real, bytes).map_err(write)
    }

    /// Reads and decodes a file under the root.
    pub fn read(&self, path: &Path) -> Result<Decoded, FileError> {
        let real = self.contain(path)?;
        read_decoded(&real, &self.display(path))
    }

    /// Writes `text` (with `\n` line ends) atomically to a file under the root, with CRLF
    /// line ends when `crlf`.
    pub fn write(&self, path: &Path, text: &str, crlf: bool) -> Result<(), FileError> {
        let real = self.contain(path)?;
        let text = if crlf {
            text.replace('\n', "\r\n")
        } else {
            text.to_string()
        };
        write_atomically(&real, &text).map_err(|source| FileError::Write {
            path: self.display(path),
            source,
        })
    }
}

/// `path` with `.` and `..` removed without touching the file system.
fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Reads and decodes a file that is not part of a repository (an export to import, an
/// emulator seed): the same decoding and size limit, no containment. `shown` names it in
/// errors.
pub fn read_decoded(path: &Path, shown: &str) -> Result<Decoded, FileError> {
    let read_error = |source| FileError::Read {
        path: shown.to_string(),
        source,
    };
    // Check the size before reading so a huge file costs no memory.
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            path: shown.to_string(),
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    decode(&bytes).map_err(|source| FileError::Decode {
        path: shown.to_string(),
        source,
    })
}

/// Reads and decodes any file by path (for the emulator's seed files and tools outside a
/// repository).
pub fn read_text(path: &Path) -> Result<String, FileError> {
    read_decoded(path, &path.display().to_string()).map(|d| d.text)
}

/// Writes `text` to `path` atomically: a temporary file in the same directory, flushed and
/// synced, then renamed over the target, so a reader (or a crash) sees the old file or the
/// new one, never half of it.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    write_bytes_atomically(path, text.as_bytes())
}

/// As [`write_atomically`], for any bytes.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.rampart-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str, bom: bool) -> Vec<u8> {
        let mut out = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        out.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        out
    }

    fn utf16be(s: &str) -> Vec<u8> {
        let mut out = vec![0xFE, 0xFF];
        out.extend(s.encode_utf16().flat_map(u16::to_be_bytes));
        out
    }

    #[test]
    fn decodes_every_encoding_windows_tools_write() {
        let text = "kind: AntivirusPolicy\r\nname: av-é\r\n";
        let want = "kind: AntivirusPolicy\nname: av-é\n";
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend(text.as_bytes());
        for (bytes, enc) in [
            (text.as_bytes().to_vec(), Encoding::Utf8),
            (bom, Encoding::Utf8Bom),
            (utf16le(text, true), Encoding::Utf16Le),
            (utf16le(text, false), Encoding::Utf16Le),
            (utf16be(text), Encoding::Utf16Be),
        ] {
            let d = decode(&bytes).unwrap();
            assert_eq!(d.text, want, "{enc:?}");
            assert_eq!(d.encoding, enc);
            assert!(d.crlf);
        }
        assert!(!decode(b"a\nb").unwrap().crlf);
        assert_eq!(decode(b"a\rb").unwrap().text, "a\nb");
    }

    #[test]
    fn undecodable_bytes_say_where() {
        let e = decode(b"name: caf\xe9\n").unwrap_err();
        assert_eq!((e.encoding, e.offset), (Encoding::Utf8, 9));
        // A lone high surrogate in UTF-16 LE after the BOM and one character.
        let e = decode(&[0xFF, 0xFE, b'a', 0, 0x00, 0xD8, b'b', 0]).unwrap_err();
        assert_eq!((e.encoding, e.offset), (Encoding::Utf16Le, 4));
        let e = decode(&[0xFF, 0xFE, b'a']).unwrap_err();
        assert_eq!(e.encoding, Encoding::Utf16Le);
    }

    #[test]
    fn containment_follows_symlinks() {
        let outer = tempfile_dir();
        let root = outer.join("repo");
        std::fs::create_dir_all(root.join("policies")).unwrap();
        std::fs::write(outer.join("secret.txt"), "s").unwrap();
        std::fs::write(root.join("policies/ok.kql"), "T").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outer.join("secret.txt"), root.join("policies/x.kql")).unwrap();
        let repo = Repo::open(&root).unwrap();
        assert!(repo.read(&root.join("policies/ok.kql")).is_ok());
        #[cfg(unix)]
        assert!(matches!(
            repo.read(&root.join("policies/x.kql")),
            Err(FileError::Outside { .. })
        ));
        assert!(matches!(
            repo.contain(&root.join("../elsewhere.yaml")),
            Err(FileError::Outside { .. })
        ));
        assert!(matches!(
            repo.contain(&root.join("new/../../x.yaml")),
            Err(FileError::Outside { .. })
        ));
        assert!(repo.contain(&root.join("profiles/new.yaml")).is_ok());
        std::fs::remove_dir_all(&outer).unwrap();
    }

    /// Issue 10: outputs (plan files, reports, imported YAML). Relative paths and paths
    /// under the repository stay inside it, symlinks followed; an absolute path outside the
    /// repository is the operator's explicit choice.
    #[test]
    fn outputs_stay_inside_unless_named_absolute_outside() {
        let outer = tempfile_dir();
        let root = outer.join("repo");
        std::fs::create_dir_all(root.join("out")).unwrap();
        std::fs::create_dir_all(outer.join("elsewhere")).unwrap();
        let repo = Repo::open(&root).unwrap();
        repo.write_output(&root.join("out/plan.json"), "{}")
            .unwrap();
        repo.write_output(&root.join("new/dir/report.json"), "{}")
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("new/dir/report.json")).unwrap(),
            "{}"
        );
        // A symlink committed to the repository that leads out: refused, nothing written.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outer.join("elsewhere/victim"), root.join("plan.json"))
                .unwrap();
            std::os::unix::fs::symlink(outer.join("elsewhere"), root.join("linkdir")).unwrap();
            for p in [root.join("plan.json"), root.join("linkdir/report.html")] {
                assert!(
                    matches!(repo.write_output(&p, "x"), Err(FileError::Outside { .. })),
                    "{}",
                    p.display()
                );
            }
            assert!(!outer.join("elsewhere/victim").exists());
            assert!(!outer.join("elsewhere/report.html").exists());
        }
        // `../` relative to the working directory inside the repository: refused.
        let cwd = std::env::current_dir().unwrap();
        let rel = pathdiff(&outer.join("elsewhere/p.json"), &cwd);
        assert!(matches!(
            repo.contain_output(&rel),
            Err(FileError::Outside { .. })
        ));
        // Named absolutely outside the repository: written as given.
        repo.write_output(&outer.join("elsewhere/p.json"), "{}")
            .unwrap();
        assert!(outer.join("elsewhere/p.json").exists());
        std::fs::remove_dir_all(&outer).unwrap();
    }

    /// `to` relative to `from`, with `..` (both absolute).
    fn pathdiff(to: &Path, from: &Path) -> PathBuf {
        let to: Vec<_> = to.components().collect();
        let from: Vec<_> = from.components().collect();
        let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
        let mut out = PathBuf::new();
        for _ in common..from.len() {
            out.push("..");
        }
        for c in &to[common..] {
            out.push(c.as_os_str());
        }
        out
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "rampart-repo-files-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
