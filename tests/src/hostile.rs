//! The harness of the malformed-file suites (`tests/tests/malformed*.rs`):
//! a hostile input must be refused with one line naming the file, must not
//! leave an output (or a temporary file) behind, must not be modified, and
//! must not make the importer allocate past a memory cap.

use std::path::{Path, PathBuf};
use std::sync::Once;

use ir::ImportOptions;

/// The address-space cap of the malformed-file suites, as the issue asks:
/// an allocation sized by an unchecked field fails the test (abort on
/// allocation failure) instead of passing on a machine with enough RAM.
pub const MEMORY_CAP: u64 = 2 << 30;

/// Caps this process's address space at [`MEMORY_CAP`] (once; every test of
/// a suite calls it first). Test binaries are separate processes, so the cap
/// covers only the suite that asks for it.
pub fn memory_cap() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let lim = libc::rlimit { rlim_cur: MEMORY_CAP, rlim_max: MEMORY_CAP };
        // SAFETY: setrlimit reads the struct we pass and nothing else.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
        assert_eq!(rc, 0, "setrlimit(RLIMIT_AS) failed: {}", std::io::Error::last_os_error());
    });
}

/// Every file under `path` (or `path` itself) with its bytes and mtime.
fn snapshot(path: &Path) -> Vec<(PathBuf, Vec<u8>, Option<std::time::SystemTime>)> {
    let files = if path.is_dir() { crate::list_files(path) } else { vec![path.to_path_buf()] };
    files
        .into_iter()
        .filter(|p| p.exists())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_default();
            let mtime = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
            (p, bytes, mtime)
        })
        .collect()
}

/// Converts `input` (format `from`, or detected) to ONNX with `import`
/// options, expecting a refusal; returns the error message after checking
/// that it is one line, starts with the path of a file under `input`'s
/// folder (the one to blame), left no file in the output folder and did not
/// change any file of the input.
pub fn refuse_with(input: &Path, from: Option<&str>, import: ImportOptions) -> String {
    memory_cap();
    let before = snapshot(input);
    let out_dir = tempfile::tempdir().expect("temp dir");
    let output = out_dir.path().join("out.onnx");
    let registry = convert::registry();
    let opts = convert::ConvertOptions { from: from.map(str::to_string), import, ..Default::default() };
    let msg = match convert::convert(&registry, input, &output, &opts) {
        Ok(_) => panic!("{} was converted although it is malformed", input.display()),
        Err(e) => e.to_string(),
    };
    assert!(!msg.contains('\n'), "message is not one line: {msg:?}");
    let folder = if input.is_dir() { input } else { input.parent().unwrap_or(input) };
    assert!(
        msg.starts_with(&folder.display().to_string()),
        "message does not start with the path of the file to blame (under {}): {msg}",
        folder.display()
    );
    let left: Vec<PathBuf> = crate::list_files(out_dir.path());
    assert!(left.is_empty(), "files left behind after a refusal: {left:?}");
    assert!(snapshot(input) == before, "{} was modified by a refused conversion", input.display());
    msg
}

/// [`refuse_with`] with the default import options (default limits).
pub fn refuse(input: &Path, from: Option<&str>) -> String {
    refuse_with(input, from, ImportOptions::default())
}

/// [`refuse`] and checks the message contains `expected` (the part after the
/// path that says what is wrong); returns the message.
#[track_caller]
pub fn refuse_saying(input: &Path, from: Option<&str>, expected: &str) -> String {
    let msg = refuse(input, from);
    assert!(msg.contains(expected), "expected the refusal of {} to say '{expected}', got: {msg}", input.display());
    msg
}
