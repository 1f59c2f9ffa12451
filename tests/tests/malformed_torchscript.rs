//! Hostile TorchScript archives and `torch.save` state_dicts (issue 18).
//!
//! Every case is built here by code: a small zip writer (stored entries,
//! deflate as stored blocks or as a fixed-Huffman bomb, zip64 sizes, lying
//! headers, symlinks), a pickle writer, byte surgery on copies of the
//! committed fixtures. Each refusal goes through the hostile-input harness
//! (one line naming the file, nothing written, input untouched, 2 GiB
//! address-space cap) and asserts the exact problem in the message.

use std::path::{Path, PathBuf};

use ir::{ImportOptions, Limits};
use workspace_tests::hostile::{memory_cap, refuse, refuse_saying, refuse_with};
use workspace_tests::{fixtures_dir, list_files};

const TS: Option<&str> = Some("torchscript");

// ------------------------------------------------------------------ zip

/// CRC-32 (IEEE), as zip stores it.
fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
            }
            *slot = c;
        }
        t
    });
    !data.iter().fold(!0u32, |crc, &b| table[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8))
}

/// One entry as it is written: `data` are the stored (maybe compressed)
/// bytes; the header fields may lie.
#[derive(Clone, Debug)]
struct Entry {
    name: String,
    /// 0 stored, 8 deflated, anything else unsupported.
    method: u16,
    crc: u32,
    data: Vec<u8>,
    /// Declared uncompressed size.
    size: u64,
    /// Declared compressed size (default: `data.len()`).
    csize: Option<u64>,
    symlink: bool,
}

impl Entry {
    fn stored(name: &str, bytes: &[u8]) -> Entry {
        Entry {
            name: name.into(),
            method: 0,
            crc: crc32(bytes),
            data: bytes.to_vec(),
            size: bytes.len() as u64,
            csize: None,
            symlink: false,
        }
    }

    /// Deflated as stored deflate blocks: a real deflate stream the reader inflates.
    fn deflated(name: &str, bytes: &[u8]) -> Entry {
        let mut data = Vec::new();
        let chunks: Vec<&[u8]> = if bytes.is_empty() { vec![&[][..]] } else { bytes.chunks(65535).collect() };
        for (i, c) in chunks.iter().enumerate() {
            data.push(u8::from(i + 1 == chunks.len()));
            let len = c.len() as u16;
            data.extend(len.to_le_bytes());
            data.extend((!len).to_le_bytes());
            data.extend_from_slice(c);
        }
        Entry { method: 8, data, ..Entry::stored(name, bytes) }
    }
}

/// Bits of a deflate stream, least significant first.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u8,
    n: u32,
}

impl Bits {
    fn put(&mut self, v: u32, n: u32) {
        for i in 0..n {
            self.acc |= (((v >> i) & 1) as u8) << self.n;
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc);
                (self.acc, self.n) = (0, 0);
            }
        }
    }

    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, n: u32) {
        for i in (0..n).rev() {
            self.put((code >> i) & 1, 1);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc);
        }
        self.out
    }
}

/// A fixed-Huffman deflate stream of one literal followed by `copies`
/// 258-byte back-references: about 159:1, inflating to `1 + 258 * copies` bytes.
fn deflate_bomb(copies: usize) -> Vec<u8> {
    let mut b = Bits::default();
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman codes
    b.code(0x30 + u32::from(b'N'), 8);
    for _ in 0..copies {
        b.code(0xC5, 8); // length 258 (symbol 285)
        b.code(0, 5); // distance 1
    }
    b.code(0, 7); // end of block
    b.finish()
}

/// A zip file and where its structures start and end.
struct Zip {
    bytes: Vec<u8>,
    boundaries: Vec<usize>,
}

fn u16le(v: &mut Vec<u8>, x: u16) {
    v.extend(x.to_le_bytes());
}

fn u32le(v: &mut Vec<u8>, x: u32) {
    v.extend(x.to_le_bytes());
}

fn write_zip(entries: &[Entry]) -> Zip {
    let mut out = Vec::new();
    let mut boundaries = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let csize = e.csize.unwrap_or(e.data.len() as u64);
        let zip64 = e.size >= 0xFFFF_FFFF || csize >= 0xFFFF_FFFF;
        let mut extra = Vec::new();
        if zip64 {
            u16le(&mut extra, 1);
            u16le(&mut extra, 16);
            extra.extend(e.size.to_le_bytes());
            extra.extend(csize.to_le_bytes());
        }
        let (size32, csize32) = if zip64 { (0xFFFF_FFFF, 0xFFFF_FFFF) } else { (e.size as u32, csize as u32) };
        let version = if zip64 { 45 } else { 20 };
        let offset = out.len();
        boundaries.push(offset);
        u32le(&mut out, 0x0403_4b50);
        u16le(&mut out, version);
        u16le(&mut out, 0x0800);
        u16le(&mut out, e.method);
        u16le(&mut out, 0);
        u16le(&mut out, 0x21);
        u32le(&mut out, e.crc);
        u32le(&mut out, csize32);
        u32le(&mut out, size32);
        u16le(&mut out, e.name.len() as u16);
        u16le(&mut out, extra.len() as u16);
        boundaries.push(out.len());
        out.extend(e.name.as_bytes());
        out.extend(&extra);
        boundaries.push(out.len());
        out.extend(&e.data);
        boundaries.push(out.len());

        let mode: u32 = if e.symlink { 0o120777 } else { 0o100644 };
        u32le(&mut central, 0x0201_4b50);
        u16le(&mut central, (3 << 8) | version);
        u16le(&mut central, version);
        u16le(&mut central, 0x0800);
        u16le(&mut central, e.method);
        u16le(&mut central, 0);
        u16le(&mut central, 0x21);
        u32le(&mut central, e.crc);
        u32le(&mut central, csize32);
        u32le(&mut central, size32);
        u16le(&mut central, e.name.len() as u16);
        u16le(&mut central, extra.len() as u16);
        u16le(&mut central, 0);
        u16le(&mut central, 0);
        u16le(&mut central, 0);
        u32le(&mut central, mode << 16);
        u32le(&mut central, offset as u32);
        central.extend(e.name.as_bytes());
        central.extend(&extra);
    }
    let cd = out.len();
    boundaries.push(cd);
    out.extend(&central);
    let eocd = out.len();
    boundaries.push(eocd);
    u32le(&mut out, 0x0605_4b50);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, entries.len() as u16);
    u16le(&mut out, entries.len() as u16);
    u32le(&mut out, central.len() as u32);
    u32le(&mut out, cd as u32);
    u16le(&mut out, 0);
    Zip { bytes: out, boundaries }
}

fn le16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The entries of a (non-zip64) zip such as torch writes, with their
/// stored bytes as they are, and every structural boundary of the file.
fn read_zip(bytes: &[u8]) -> (Vec<Entry>, Vec<usize>) {
    let eocd = (0..=bytes.len() - 22).rev().find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 5, 6]).expect("an end record");
    let count = le16(bytes, eocd + 10);
    let mut p = le32(bytes, eocd + 16) as usize;
    let mut boundaries = vec![p, eocd];
    let mut entries = Vec::new();
    for _ in 0..count {
        assert_eq!(le32(bytes, p), 0x0201_4b50, "central header at {p}");
        boundaries.push(p);
        let method = le16(bytes, p + 10) as u16;
        let crc = le32(bytes, p + 16);
        let csize = le32(bytes, p + 20) as usize;
        let size = u64::from(le32(bytes, p + 24));
        let (n, x, c) = (le16(bytes, p + 28), le16(bytes, p + 30), le16(bytes, p + 32));
        let off = le32(bytes, p + 42) as usize;
        let name = String::from_utf8(bytes[p + 46..p + 46 + n].to_vec()).expect("UTF-8 name");
        let start = off + 30 + le16(bytes, off + 26) + le16(bytes, off + 28);
        boundaries.extend([off, off + 30, start, start + csize]);
        let data = bytes[start..start + csize].to_vec();
        entries.push(Entry { name, method, crc, data, size, csize: None, symlink: false });
        p += 46 + n + x + c;
    }
    boundaries.sort_unstable();
    boundaries.dedup();
    (entries, boundaries)
}

// ------------------------------------------------------------------ pickle

/// A protocol-2 pickle under construction.
struct P(Vec<u8>);

impl P {
    fn new() -> P {
        P(vec![0x80, 2])
    }

    fn op(mut self, bytes: &[u8]) -> P {
        self.0.extend_from_slice(bytes);
        self
    }

    fn global(self, module: &str, name: &str) -> P {
        self.op(b"c").op(module.as_bytes()).op(b"\n").op(name.as_bytes()).op(b"\n")
    }

    fn str(self, s: &str) -> P {
        self.op(b"X").op(&(s.len() as u32).to_le_bytes()).op(s.as_bytes())
    }

    /// Any i64, as an 8-byte LONG1.
    fn int(self, i: i64) -> P {
        self.op(&[0x8a, 8]).op(&i.to_le_bytes())
    }

    fn ints(self, xs: &[i64]) -> P {
        xs.iter().fold(self.op(b"("), |p, &x| p.int(x)).op(b"t")
    }

    /// `_rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, sizes, strides, False, OrderedDict())`.
    fn tensor(self, key: &str, numel: i64, offset: i64, sizes: &[i64], strides: &[i64]) -> P {
        self.global("torch._utils", "_rebuild_tensor_v2")
            .op(b"((")
            .str("storage")
            .global("torch", "FloatStorage")
            .str(key)
            .str("cpu")
            .int(numel)
            .op(b"tQ")
            .int(offset)
            .ints(sizes)
            .ints(strides)
            .op(&[0x89])
            .global("collections", "OrderedDict")
            .op(b")RtR")
    }

    fn stop(self) -> Vec<u8> {
        self.op(b".").0
    }
}

/// `data.pkl` of the module `__torch__.M` with `training` and the
/// attributes `attrs` adds (key, value pairs).
fn module_pickle(attrs: impl FnOnce(P) -> P) -> Vec<u8> {
    let p = P::new().global("__torch__", "M").op(b")\x81}(").str("training").op(&[0x88]);
    attrs(p).op(b"ub").stop()
}

/// A pickle that calls `module.name(cmd)`, as a malicious file does:
/// `GLOBAL` (protocol 2) or `STACK_GLOBAL` (protocol 4).
fn call_pickle(module: &str, name: &str, cmd: &str, stack_global: bool) -> Vec<u8> {
    let p = if stack_global {
        let short = |p: P, s: &str| p.op(&[0x8c, s.len() as u8]).op(s.as_bytes());
        let p = P(vec![0x80, 4]);
        short(short(p, module), name).op(&[0x93])
    } else {
        P::new().global(module, name)
    };
    p.str(cmd).op(&[0x85]).op(b"R").stop()
}

const CODE: &str = "class M(Module):\n  __parameters__ = []\n  __buffers__ = []\n  training : bool\n  def forward(self: __torch__.M,\n    x: Tensor) -> Tensor:\n    return torch.relu(x)\n";

/// The entries of a minimal TorchScript archive: `data.pkl`, the code of
/// `__torch__.M`, `version`.
fn archive_entries(data_pkl: &[u8], code: &str) -> Vec<Entry> {
    vec![
        Entry::stored("m/data.pkl", data_pkl),
        Entry::stored("m/code/__torch__.py", code.as_bytes()),
        Entry::stored("m/version", b"3\n"),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write a case");
    p
}

/// A fresh folder with `bytes` as `model.pt`.
fn case(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = write(dir.path(), "model.pt", bytes);
    (dir, p)
}

fn zip_case(entries: &[Entry]) -> (tempfile::TempDir, PathBuf) {
    case(&write_zip(entries).bytes)
}

/// Refuses the archive of `entries` (as TorchScript) saying `expected`.
#[track_caller]
fn refuse_zip(entries: &[Entry], expected: &str) -> String {
    let (_dir, p) = zip_case(entries);
    refuse_saying(&p, TS, expected)
}

/// Converts `input` to ONNX with `limits`, which must succeed.
fn converts_with(input: &Path, limits: Limits) {
    memory_cap();
    let out = tempfile::tempdir().expect("temp dir");
    let opts = convert::ConvertOptions {
        from: TS.map(str::to_string),
        import: ImportOptions { limits, ..Default::default() },
        ..Default::default()
    };
    if let Err(e) = convert::convert(&convert::registry(), input, &out.path().join("out.onnx"), &opts) {
        panic!("{} does not convert with {limits:?}: {e}", input.display());
    }
}

fn limits_refusal(input: &Path, limits: Limits, expected: &str) -> String {
    let msg = refuse_with(input, TS, ImportOptions { limits, ..Default::default() });
    assert!(msg.contains(expected), "expected '{expected}' in: {msg}");
    msg
}

/// `--weights`: the state_dict fixture's ONNX model filled from `weights`
/// must be refused with one line naming the weights file and saying
/// `expected`, leave nothing behind and not touch the file.
#[track_caller]
fn refuse_weights(weights: &Path, expected: &str) -> String {
    memory_cap();
    let model = fixtures_dir().join("torchscript/state_dict/model.onnx");
    let before = std::fs::read(weights).expect("weights file");
    let out = tempfile::tempdir().expect("temp dir");
    let opts = convert::ConvertOptions { weights: Some(weights.to_path_buf()), ..Default::default() };
    let msg = match convert::convert(&convert::registry(), &model, &out.path().join("out.onnx"), &opts) {
        Ok(_) => panic!("{} was used although it is hostile", weights.display()),
        Err(e) => e.to_string(),
    };
    assert!(!msg.contains('\n'), "not one line: {msg:?}");
    let folder = weights.parent().expect("a folder").display().to_string();
    assert!(msg.starts_with(&folder), "does not name the weights file: {msg}");
    assert!(msg.contains(expected), "expected '{expected}' in: {msg}");
    assert!(list_files(out.path()).is_empty(), "files left behind");
    assert_eq!(std::fs::read(weights).expect("weights file"), before, "weights file modified");
    msg
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join("torchscript").join(rel)).expect("fixture")
}

/// The entries of a fixture archive with `name` (relative to the top folder) replaced.
fn with_entry(fixture_rel: &str, name: &str, bytes: &[u8]) -> Vec<Entry> {
    let (mut entries, _) = read_zip(&fixture(fixture_rel));
    let e = entries.iter_mut().find(|e| e.name.split_once('/').is_some_and(|(_, n)| n == name)).expect("entry");
    *e = Entry::stored(&e.name, bytes);
    entries
}

// ------------------------------------------------------------------ cases

#[test]
fn the_hand_built_archive_converts_so_each_case_differs_by_one_defect() {
    let (_d, p) = zip_case(&archive_entries(&module_pickle(|p| p), CODE));
    converts_with(&p, Limits::default());
    // With a tensor attribute too (a 2x3 view of a 6-float storage).
    let pkl = module_pickle(|p| p.str("w").tensor("0", 6, 0, &[2, 3], &[3, 1]));
    let mut entries = archive_entries(&pkl, CODE);
    entries.push(Entry::stored("m/data/0", &[0u8; 24]));
    let (_d, p) = zip_case(&entries);
    converts_with(&p, Limits::default());
    // And the fixture re-written by this file's zip writer.
    let (entries, _) = read_zip(&fixture("cnn_traced/model.pt"));
    let (_d, p) = zip_case(&entries);
    converts_with(&p, Limits::default());
}

#[test]
fn a_fixture_truncated_at_every_zip_boundary_and_a_sweep_of_offsets() {
    let bytes = fixture("cnn_traced/model.pt");
    let (_, boundaries) = read_zip(&bytes);
    let mut cuts: Vec<usize> = boundaries.iter().flat_map(|&b| [b.saturating_sub(1), b, b + 1]).collect();
    cuts.extend((0..bytes.len()).step_by(97));
    cuts.retain(|&c| c < bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    assert!(cuts.len() > 300, "{} cuts", cuts.len());
    for cut in cuts {
        let (_d, p) = case(&bytes[..cut]);
        refuse_saying(&p, TS, "not a zip archive");
    }
}

#[test]
fn entries_truncated_inside_a_well_formed_zip() {
    let bytes = fixture("cnn_traced/model.pt");
    let (entries, _) = read_zip(&bytes);
    let pkl = entries.iter().find(|e| e.name.ends_with("/data.pkl")).expect("data.pkl").data.clone();
    // data.pkl cut at every byte: each cut drops STOP at least.
    for cut in 0..pkl.len() {
        let (_d, p) = zip_case(&with_entry("cnn_traced/model.pt", "data.pkl", &pkl[..cut]));
        refuse_saying(&p, TS, "data.pkl: truncated");
    }
    // A storage shorter than its tensor's elements.
    let storage = entries.iter().find(|e| e.name.ends_with("/data/0")).expect("data/0").data.clone();
    for cut in [0, 1, storage.len() / 2, storage.len() - 1] {
        let (_d, p) = zip_case(&with_entry("cnn_traced/model.pt", "data/0", &storage[..cut]));
        refuse_saying(&p, TS, &format!("tensor in storage '0': storage holds {cut} bytes, shorter than its declared"));
    }
    // A deflated code entry with its compressed stream cut: the inflated
    // bytes fall short of the declared size.
    let mut cut_code = entries.clone();
    let code = cut_code.iter_mut().find(|e| e.name.ends_with("code/__torch__.py")).expect("code");
    assert_eq!(code.method, 8, "torch deflates code");
    code.data.truncate(code.data.len() / 2);
    refuse_saying(&zip_case(&cut_code).1, TS, "code/__torch__.py");
    // The code cut at every line boundary is a parse error naming the file and line.
    let text = CODE;
    for (at, _) in text.match_indices('\n').filter(|&(i, _)| i + 1 < text.len()) {
        let cut = &text[..at];
        let (_d, p) = zip_case(&archive_entries(&module_pickle(|p| p), cut));
        refuse_saying(&p, TS, "code/__torch__.py:");
    }
}

#[test]
fn wrong_magic() {
    let mut bytes = fixture("cnn_traced/model.pt");
    // The end record's magic: no archive.
    let eocd = (0..bytes.len() - 21).rev().find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 5, 6]).expect("end record");
    let mut broken = bytes.clone();
    broken[eocd] = b'X';
    refuse_saying(&case(&broken).1, TS, "not a zip archive");
    // The first local header's magic: the entry's data cannot be found.
    bytes[0] = b'X';
    refuse_saying(&case(&bytes).1, TS, "zip entry 0");
    // Not a zip at all: a pickle, an ONNX file, nothing.
    refuse_saying(&case(&fixture("state_dict_legacy/weights.pt")).1, TS, "not a zip archive");
    refuse_saying(&case(b"").1, TS, "not a zip archive");
    refuse_saying(&case(b"\x08\x07\x12\x04test").1, TS, "not a zip archive");
}

#[test]
fn zip_bombs() {
    let base = || archive_entries(&module_pickle(|p| p), CODE);
    // A deflated entry declaring 1 TB inflated from 1 KB.
    let mut e = base();
    let mut bomb = Entry::deflated("m/extra/bomb", &[0u8; 1024]);
    bomb.size = 1 << 40;
    e.push(bomb.clone());
    refuse_zip(
        &e,
        "zip entry 'm/extra/bomb' declares 1099511627776 bytes inflated from 1029, a ratio over deflate's 1032:1 (a zip bomb)",
    );
    // A ratio of 2000:1, far below a terabyte.
    bomb.size = 2000 * bomb.data.len() as u64;
    let mut e = base();
    e.push(bomb);
    refuse_zip(&e, "a ratio over deflate's 1032:1");
    // A stored entry declaring 1 TB (zip64) or u64::MAX: past the end of the file.
    for size in [1u64 << 40, u64::MAX] {
        let mut big = Entry::stored("m/data/0", b"0123");
        (big.size, big.csize) = (size, Some(size));
        let mut e = base();
        e.push(big);
        let expected = if size == u64::MAX {
            // The zip reader finds this one first.
            "zip entry 3: invalid Zip archive: File data end offset overflows u64".to_string()
        } else {
            format!(
                "zip entry 'm/data/0' claims {size} bytes at offset 384, past the end of the 660-byte file (truncated?)"
            )
        };
        refuse_zip(&e, &expected);
    }
    // Local headers that disagree with the central directory: an extra
    // field running past the end of the file, sizes that differ.
    let mut z = write_zip(&base());
    let first = z.boundaries[0];
    z.bytes[first + 28..first + 30].copy_from_slice(&0xFFFFu16.to_le_bytes());
    refuse_saying(
        &case(&z.bytes).1,
        TS,
        "zip entry 'm/data.pkl' claims 36 bytes at offset 65575, past the end of the 524-byte file",
    );
    let mut z = write_zip(&base());
    z.bytes[first + 18..first + 26].copy_from_slice(&[0x10, 0, 0, 0, 0x10, 0, 0, 0]);
    refuse_saying(
        &case(&z.bytes).1,
        TS,
        "zip entry 'm/data.pkl': its local header disagrees with the central directory on the CRC or sizes",
    );
    // A real bomb that lies small: 1 MB of deflate back-references
    // declared as 1000 bytes stops at byte 1001 (the zip reader notices first).
    let data = deflate_bomb(4096);
    let mut e = base();
    e[0] = Entry { method: 8, data, size: 1000, crc: 0, ..Entry::stored("m/data.pkl", b"") };
    refuse_zip(&e, "entry 'data.pkl': File is larger than its declared uncompressed size");
}

#[test]
fn hostile_entry_names_and_links_are_refused_and_nothing_is_extracted() {
    let cases = [
        ("m/../../evil.pkl", "zip entry 'm/../../evil.pkl' contains '..'"),
        ("../evil.pkl", "zip entry '../evil.pkl' contains '..'"),
        ("/etc/passwd", "zip entry '/etc/passwd' is an absolute path"),
        ("C:/Windows/evil.dll", "zip entry 'C:/Windows/evil.dll' is an absolute path"),
        ("m\\..\\evil.pkl", "contains a backslash"),
        ("other/data.pkl", "zip entry 'other/data.pkl' is outside the top folder 'm'"),
    ];
    for (name, expected) in cases {
        let mut e = archive_entries(&module_pickle(|p| p), CODE);
        e.push(Entry::stored(name, b"payload"));
        let (dir, p) = zip_case(&e);
        refuse_saying(&p, TS, expected);
        assert_eq!(list_files(dir.path()), std::slice::from_ref(&p), "something was extracted for '{name}'");
    }
    // A symbolic link entry (to /etc/passwd), even with a harmless name.
    let mut e = archive_entries(&module_pickle(|p| p), CODE);
    e.push(Entry { symlink: true, ..Entry::stored("m/data/0", b"/etc/passwd") });
    refuse_zip(&e, "zip entry 'm/data/0' is a symbolic link");
    // A class name that reads like a path is only looked up by name.
    let pkl = P::new().global("__torch__.x/../../../etc", "passwd").op(b")\x81}b").stop();
    refuse_zip(&archive_entries(&pkl, CODE), "archive has no entry 'm/code/__torch__/x/");
    // Twice the same entry; an unsupported compression method.
    let mut e = archive_entries(&module_pickle(|p| p), CODE);
    e.push(Entry::stored("m/version", b"3\n"));
    refuse_zip(&e, "zip central directory names an entry twice");
    let mut e = archive_entries(&module_pickle(|p| p), CODE);
    e[0].method = 12;
    refuse_zip(&e, "zip entry 'm/data.pkl' uses compression");
}

/// The globals a malicious pickle calls.
const HOSTILE: &[(&str, &str)] = &[
    ("os", "system"),
    ("posix", "system"),
    ("nt", "system"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("__builtin__", "eval"),
    ("subprocess", "Popen"),
    ("torch", "load"),
];

#[test]
fn pickles_calling_dangerous_globals_are_refused_and_nothing_runs() {
    for &(module, name) in HOSTILE {
        for stack_global in [false, true] {
            let dir = tempfile::tempdir().expect("temp dir");
            let marker = dir.path().join("pwned");
            let pkl = call_pickle(module, name, &format!("touch {}", marker.display()), stack_global);
            let p = write(dir.path(), "model.pt", &write_zip(&archive_entries(&pkl, CODE)).bytes);
            refuse_saying(&p, TS, &format!("data.pkl: global '{module}.{name}' is not allowed"));
            assert!(!marker.exists(), "{module}.{name} ran");
            // The same inside the module's attributes, and in constants.pkl.
            let nested = module_pickle(|p| p.str("hook").global(module, name).str("true").op(&[0x85]).op(b"R"));
            let (_d, p) = zip_case(&archive_entries(&nested, CODE));
            refuse_saying(&p, TS, &format!("data.pkl: global '{module}.{name}' is not allowed"));
            let mut e = archive_entries(&module_pickle(|p| p), CODE);
            e.push(Entry::stored("m/constants.pkl", &pkl));
            let (_d, p) = zip_case(&e);
            refuse_saying(&p, TS, &format!("constants.pkl: global '{module}.{name}' is not allowed"));
        }
    }
}

/// A legacy `torch.save` file whose saved object is `root`.
fn legacy_file(root: &[u8]) -> Vec<u8> {
    let magic = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.";
    let protocol = b"\x80\x02M\xe9\x03.";
    let info = b"\x80\x02}q\x00.";
    [&magic[..], protocol, info, root, b"\x80\x02].".as_slice()].concat()
}

#[test]
fn the_same_hostile_pickles_through_weights() {
    // The unmodified fixtures are accepted (so the refusals below are the pickles').
    memory_cap();
    for &(module, name) in HOSTILE {
        let dir = tempfile::tempdir().expect("temp dir");
        let marker = dir.path().join("pwned");
        let pkl = call_pickle(module, name, &format!("touch {}", marker.display()), false);
        let expected = format!("global '{module}.{name}' is not allowed");
        let zip = write_zip(&with_entry("state_dict/weights.pt", "data.pkl", &pkl)).bytes;
        refuse_weights(&write(dir.path(), "weights.pt", &zip), &expected);
        refuse_weights(&write(dir.path(), "legacy.pt", &legacy_file(&pkl)), &expected);
        // A TorchScript archive given as weights.
        let ts = write_zip(&archive_entries(&pkl, CODE)).bytes;
        refuse_weights(&write(dir.path(), "archive.pt", &ts), &expected);
        assert!(!marker.exists(), "{module}.{name} ran");
    }
    // Hostile zip structure through --weights: names, links, bombs.
    let dir = tempfile::tempdir().expect("temp dir");
    let (base, _) = read_zip(&fixture("state_dict/weights.pt"));
    let top = base[0].name.split_once('/').expect("a top folder").0.to_string();
    let hostile_entries = [
        (Entry::stored("../evil", b"x"), "zip entry '../evil' contains '..'".to_string()),
        (Entry::stored("/etc/passwd", b"x"), "zip entry '/etc/passwd' is an absolute path".to_string()),
        (
            Entry { symlink: true, ..Entry::stored(&format!("{top}/data/9"), b"/etc/passwd") },
            format!("zip entry '{top}/data/9' is a symbolic link"),
        ),
        (
            Entry { size: 1 << 40, ..Entry::deflated(&format!("{top}/data/9"), &[0; 100]) },
            "a ratio over deflate's 1032:1 (a zip bomb)".to_string(),
        ),
    ];
    for (extra, expected) in hostile_entries {
        let mut e = base.clone();
        e.push(extra);
        refuse_weights(&write(dir.path(), "weights.pt", &write_zip(&e).bytes), &expected);
    }
    // Bombs through --weights too.
    let dir = tempfile::tempdir().expect("temp dir");
    let deep = [&b"\x80\x02"[..], &b"]".repeat(100_001), &b"a".repeat(100_000), b"."].concat();
    refuse_weights(&write(dir.path(), "deep.pt", &legacy_file(&deep)), "pickled values nested too deeply");
    let zip = write_zip(&with_entry("state_dict/weights.pt", "data.pkl", &deep)).bytes;
    refuse_weights(&write(dir.path(), "deep_zip.pt", &zip), "--max-depth");
    let bytes = fixture("state_dict_legacy/weights.pt");
    for cut in (0..bytes.len()).step_by(7) {
        let p = write(dir.path(), "cut.pt", &bytes[..cut]);
        let msg = refuse_weights(&p, "");
        assert!(
            ["truncated", "not a torch.save file", "past the end of the file"].iter().any(|m| msg.contains(m)),
            "cut at {cut}: {msg}"
        );
    }
    // A legacy storage whose element count is negative or near u64::MAX.
    let root = P::new().tensor("0", 6, 0, &[6], &[1]).stop();
    let keys = b"\x80\x02]X\x01\x00\x00\x000a.";
    for (count, expected) in
        [(-1i64, "storage '0' has negative size -1"), (i64::MAX, "holds 9223372036854775807 elements")]
    {
        let mut f = legacy_file(&root);
        f.truncate(f.len() - 4);
        f.extend_from_slice(keys);
        f.extend(count.to_le_bytes());
        f.extend([0u8; 24]);
        refuse_weights(&write(dir.path(), "count.pt", &f), expected);
    }
}

#[test]
fn pickle_stack_bombs_and_malformed_opcodes() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // 100k nested lists, tuples and dicts; a MARK bomb.
        (
            [&b"\x80\x02"[..], &b"]".repeat(100_001), &b"a".repeat(100_000), b"."].concat(),
            "pickled values nested too deeply",
        ),
        ([&b"\x80\x02)"[..], &b"\x85".repeat(100_000), b"."].concat(), "pickled values nested too deeply"),
        (
            [&b"\x80\x02"[..], &b"(".repeat(100_000), b"K\x01", &b"t".repeat(100_000), b"."].concat(),
            "nesting depth exceeds the limit of 64 (raise it with --max-depth N)",
        ),
        ([&b"\x80\x02"[..], &b"(".repeat(1_000_000), b"."].concat(), "a MARK where a value was expected"),
        (
            [&b"\x80\x02}"[..], &b"K\x01}".repeat(100_000), &b"s".repeat(100_000), b"."].concat(),
            "pickled values nested too deeply",
        ),
        // Memo: GET of a missing key, PUT with nothing to store, a huge key.
        (b"\x80\x02h\x05.".to_vec(), "memo key 5 was never stored"),
        (b"\x80\x02j\xff\xff\xff\xff.".to_vec(), "memo key 4294967295 was never stored"),
        (b"\x80\x02r\xff\xff\xff\xffN.".to_vec(), "no value on the stack"),
        (b"\x80\x02g99999999999999999999999\n.".to_vec(), "GET '99999999999999999999999'"),
        // Lengths near u32::MAX and u64::MAX.
        (b"\x80\x02\x8b\xff\xff\xff\xff".to_vec(), "integer of 4294967295 bytes"),
        (b"\x80\x02X\xff\xff\xff\xffabc".to_vec(), "truncated: needs 4294967295 bytes at offset 7"),
        (b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xffabc".to_vec(), "truncated: needs 18446744073709551615 bytes"),
        (b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f.".to_vec(), "truncated: needs 9223372036854775807 bytes"),
        (b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xffN.".to_vec(), "data.pkl holds a None, not a module"),
        // Stack underflow, stray MARK, wrong container, odd dict.
        (b"\x80\x02R.".to_vec(), "stack underflow"),
        (b"\x80\x02N1.".to_vec(), "no MARK on the stack"),
        (b"\x80\x02Na.".to_vec(), "no value on the stack"),
        (b"\x80\x02NNa.".to_vec(), "APPEND to a non-list"),
        (b"\x80\x02}(K\x01u.".to_vec(), "SETITEMS with an odd number of items"),
        (b"\x80\x02NN0.".to_vec(), "data.pkl holds a None"),
        (b"\x80\x02NQ.".to_vec(), "a persistent id is not a tuple"),
        (
            b"\x80\x02(X\x07\x00\x00\x00storageK\x01tQ.".to_vec(),
            "persistent id is not ('storage', type, key, location, numel)",
        ),
        (b"\x80\x02\xfe.".to_vec(), "unknown opcode 0xfe at offset 2"),
        (b"\x80\x09N.".to_vec(), "pickle protocol 9"),
        (
            b"\x80\x02i__main__\nX\n.".to_vec(),
            "opcode 0x69 at offset 2 (instantiation or out-of-band data) is not read",
        ),
        // A list that contains itself; a module that is its own submodule.
        (b"\x80\x02]q\x00h\x00a.".to_vec(), "pickled values nested too deeply (or a cycle)"),
        (
            b"\x80\x02c__torch__\nM\n)\x81q\x00}(X\x04\x00\x00\x00selfh\x00ub.".to_vec(),
            "pickled values nested too deeply (or a cycle)",
        ),
    ];
    for (pkl, expected) in cases {
        refuse_zip(&archive_entries(&pkl, CODE), expected);
    }
    // Shared references doubling 30 times (2^30 values once expanded) at a depth of 30.
    let mut p = b"\x80\x02]q\x00".to_vec();
    for i in 1..=30u8 {
        p.extend([b'h', i - 1, b'h', i - 1, 0x86, b'q', i]);
    }
    p.push(b'.');
    refuse_zip(&archive_entries(&p, CODE), "more than 8000000 values once shared references are expanded");
}

/// A tensor view case: storage numel, offset, sizes, strides, floats
/// present in the storage entry, and the expected message.
type ViewCase = (i64, i64, Vec<i64>, Vec<i64>, usize, &'static str);

#[test]
fn storages_and_views_that_do_not_fit() {
    let f32s = |n: usize| vec![0u8; 4 * n];
    let cases: Vec<ViewCase> = vec![
        // numel, offset, sizes, strides, bytes present, message
        (6, 4, vec![2, 3], vec![3, 1], 6, "reaches element 9, but the storage has 6 (storage shorter than its tensor)"),
        (6, i64::MAX, vec![1], vec![1], 6, "reaches element 9223372036854775807, but the storage has 6"),
        (6, 0, vec![1 << 62, 1 << 62], vec![1, 1], 6, "shape overflows"),
        (6, 0, vec![i64::MAX, 3], vec![1, 1], 6, "shape overflows"),
        (6, 0, vec![i64::MAX], vec![1], 6, "storage shorter than its tensor"),
        (6, 0, vec![2, 3], vec![-3, 1], 6, "negative stride -3"),
        (6, 0, vec![2, 3], vec![3, i64::MIN], 6, "negative stride -9223372036854775808"),
        (6, 0, vec![3, 3], vec![i64::MAX, i64::MAX], 6, "view extent overflows"),
        (6, 0, vec![2, -3], vec![3, 1], 6, "negative tensor size -3"),
        (6, -1, vec![2, 3], vec![3, 1], 6, "negative tensor offset -1"),
        (-6, 0, vec![2, 3], vec![3, 1], 6, "storage '0' has negative size -6"),
        (6, 0, vec![2, 3], vec![3], 6, "tensor has 2 sizes but 1 strides"),
        (6, 0, vec![2, 3], vec![3, 1], 5, "storage holds 20 bytes, shorter than its declared 6 elements"),
        (1 << 62, 0, vec![2], vec![1], 6, "storage size overflows"),
        (i64::MAX, 0, vec![2], vec![1], 6, "storage size overflows"),
        // A stride-0 view of 6 floats describing 2^40 elements: bytes the file does not hold.
        (
            6,
            0,
            vec![1 << 20, 1 << 20],
            vec![0, 0],
            6,
            "takes 4398046511104 bytes: decompressed bytes exceeds the limit",
        ),
    ];
    for (numel, offset, sizes, strides, have, expected) in cases {
        let pkl = module_pickle(|p| p.str("w").tensor("0", numel, offset, &sizes, &strides));
        let mut e = archive_entries(&pkl, CODE);
        e.push(Entry::stored("m/data/0", &f32s(have)));
        refuse_zip(&e, expected);
    }
    // A storage the archive does not hold, and one named with a path.
    for key in ["7", "../../etc/passwd"] {
        let pkl = module_pickle(|p| p.str("w").tensor(key, 6, 0, &[6], &[1]));
        refuse_zip(&archive_entries(&pkl, CODE), &format!("archive has no entry 'm/data/{key}'"));
    }
}

/// The archive with `forward`'s body (or the whole code) replaced.
fn code_case(code: &str) -> (tempfile::TempDir, PathBuf) {
    zip_case(&archive_entries(&module_pickle(|p| p), code))
}

fn forward(body: &str) -> String {
    CODE.replace("    return torch.relu(x)\n", body)
}

#[test]
fn source_bombs_and_recursion() {
    let depth = "nesting depth exceeds the limit of 64 (raise it with --max-depth N)";
    let n = 100_000;
    let bombs = [
        forward(&format!("    return {}x{}\n", "(".repeat(n), ")".repeat(n))),
        forward(&format!("    return [{}x{}]\n", "[".repeat(n), "]".repeat(n))),
        forward(&format!("    return x{}\n", " + x".repeat(n))),
        forward(&format!("    return x{}\n", ".t()".repeat(n))),
        forward(&format!("    return x{}\n", "[0]".repeat(n))),
        forward(&format!("    return {}x\n", "-".repeat(n))),
        forward(&format!("    return {}x\n", "not ".repeat(n))),
        forward(&format!("    return x{}\n", " ** x".repeat(n))),
        forward(&format!("    return x{}\n", " if x else x".repeat(n))),
        forward(&format!("    if x:\n      pass\n{}    return x\n", "    elif x:\n      pass\n".repeat(n))),
        forward(
            &((0..2000).map(|i| format!("{}if x:\n", " ".repeat(4 + i))).collect::<String>()
                + &" ".repeat(2004)
                + "pass\n    return x\n"),
        ),
    ];
    for code in &bombs {
        let (_d, p) = code_case(code);
        let msg = refuse_saying(&p, TS, depth);
        assert!(msg.contains("code/__torch__.py:") && msg.contains("source nested too deeply"), "{msg}");
    }
    // Self-recursive methods and mutually recursive functions.
    let (_d, p) = code_case(&forward("    return self.forward(x)\n"));
    refuse_saying(
        &p,
        TS,
        "calls nested too deeply (recursion?) at 'forward' of code/__torch__.py: nesting depth exceeds the limit of 64",
    );
    let mutual = format!(
        "{}def f(x: Tensor) -> Tensor:\n  return __torch__.g(x)\ndef g(x: Tensor) -> Tensor:\n  return __torch__.f(x)\n",
        forward("    return __torch__.f(x)\n")
    );
    let (_d, p) = code_case(&mutual);
    refuse_saying(&p, TS, "code/__torch__.py:9:10: calls nested too deeply (recursion?) at 'g' of code/__torch__.py");
    // Loops unrolled into each other: 64^4 statements.
    let nested = forward(
        "    y = 0\n    for a in range(64):\n      for b in range(64):\n        for c in range(64):\n          for d in range(64):\n            y = 1\n    return x\n",
    );
    refuse_saying(&code_case(&nested).1, TS, "more than 1000000 statements interpreted");
    // A Python list of 10^18 ints; integer overflow in folded arithmetic.
    refuse_saying(
        &code_case(&forward("    y = range(1000000000000000000)\n    return x\n")).1,
        TS,
        "range(0, 1000000000000000000) as a list",
    );
    refuse_saying(
        &code_case(&forward("    y = abs(-9223372036854775807 - 1)\n    return x\n")).1,
        TS,
        "abs(-9223372036854775808) overflows 64 bits",
    );
    refuse_saying(
        &code_case(&forward("    y = -(-9223372036854775807 - 1)\n    return x\n")).1,
        TS,
        "overflows 64 bits",
    );
    // Loop bounds at i64's ends, and remainders of extreme operands, are not panics.
    let (_d, p) = code_case(&forward(
        "    for i in range(-9223372036854775807 - 1, 9223372036854775807, 4611686018427387904):\n      y = i % 9223372036854775807\n    return x\n",
    ));
    converts_with(&p, Limits::default());
    // A list nested 10,000 deep by a loop the interpreter runs to its bound.
    let (_d, p) = code_case(&forward("    y = [x]\n    while True:\n      y = [y]\n    return x\n"));
    refuse_saying(&p, TS, "a list, tuple or dict built by the code: nesting depth exceeds the limit of 64");
    // Lists that double until they would fill memory.
    for body in ["      y = y + y\n", "      y = [y, y]\n", "      y.extend(y)\n", "      y.append(y)\n"] {
        let (_d, p) = code_case(&forward(&format!("    y = [x]\n    while True:\n{body}    return x\n")));
        let msg = refuse(&p, TS);
        assert!(
            msg.contains("values (at most 65536 are built at import)")
                || msg.contains("nesting depth exceeds the limit of 64"),
            "{body}: {msg}"
        );
    }
    // Input shapes recorded with dimensions near u64::MAX.
    let mut e = archive_entries(&module_pickle(|p| p), CODE);
    e.push(Entry::stored("m/extra/model_convert_inputs.txt", b"x float32 18446744073709551615,9223372036854775808\n"));
    let (_d, p) = zip_case(&e);
    let out = tempfile::tempdir().expect("temp dir");
    let opts = convert::ConvertOptions { from: TS.map(str::to_string), ..Default::default() };
    if let Err(e) = convert::convert(&convert::registry(), &p, &out.path().join("o.onnx"), &opts) {
        assert!(!e.to_string().contains('\n'), "{e}");
    }
    // Ops called with too few arguments.
    refuse_saying(&code_case(&forward("    return torch.relu()\n")).1, TS, "missing argument 0 ('self')");
    refuse_saying(&code_case(&forward("    return torch._convolution(x)\n")).1, TS, "missing argument 1");
    refuse_saying(&code_case(&forward("    return torch.cat()\n")).1, TS, "missing argument 0");
    refuse_saying(
        &code_case(&forward("    return torch._transformer_encoder_layer_fwd(x, 4, 2)\n")).1,
        TS,
        "missing argument",
    );
}

#[test]
fn source_that_is_not_text_or_not_python() {
    let not_utf8 = [&CODE.as_bytes()[..40], &[0xff, 0xfe, 0x80][..], &CODE.as_bytes()[40..]].concat();
    let mut e = archive_entries(&module_pickle(|p| p), CODE);
    e[1] = Entry::stored("m/code/__torch__.py", &not_utf8);
    refuse_zip(&e, "entry 'code/__torch__.py' is not UTF-8 text");
    let cases = [
        (forward("    return $x\n"), "code/__torch__.py:7:12: unexpected character '$'"),
        (forward("    return 'abc\n"), "unterminated string"),
        (forward("    return x\n   y = 1\n"), "indentation does not match any outer level"),
        (forward("    return (x\n"), "unclosed bracket at end of file"),
        (forward("    return x)\n"), "unmatched ')'"),
        (forward("    return 0x\n"), "bad number '0x'"),
        (forward("    return 1e999999e9\n"), "bad number"),
        (forward("    return \"\\x\"\n"), "bad \\x escape"),
        (forward("    return x\u{202e}\n"), "unexpected character"),
        (forward("    return \u{0}\n"), "unexpected character"),
        ("\t\t\t\x0c\x0b".to_string(), "unexpected character"),
        (format!("{CODE}\u{feff}class N:\n  pass\n"), "unexpected character"),
    ];
    for (code, expected) in cases {
        let (_d, p) = code_case(&code);
        refuse_saying(&p, TS, expected);
    }
    // A source file larger than any real one (deflated: 17 MB of blank lines from 17 MB stored blocks).
    let mut e = archive_entries(&module_pickle(|p| p), CODE);
    e[1] = Entry::deflated("m/code/__torch__.py", format!("{CODE}{}", "\n".repeat(17 << 20)).as_bytes());
    refuse_zip(&e, "code/__torch__.py is 17825952 bytes of source (at most 16777216 are parsed)");
    // Arbitrary bytes that happen to be UTF-8: a clean refusal whatever they say.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        let text: String = (0..200)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from_u32((seed % 0x3000) as u32).unwrap_or('?')
            })
            .collect();
        let (_d, p) = code_case(&format!("{}{text}\n", &CODE[..CODE.len() - 1]));
        refuse_saying(&p, TS, "");
    }
}

// ------------------------------------------------------------------ limits: (a) just over is refused naming the flag, (b) raised, the same file loads

#[test]
fn limit_depth() {
    let code = forward(&format!("    return torch.relu({}x{})\n", "(".repeat(70), ")".repeat(70)));
    let (_d, p) = code_case(&code);
    limits_refusal(
        &p,
        Limits::default(),
        "source nested too deeply: nesting depth exceeds the limit of 64 (raise it with --max-depth N)",
    );
    converts_with(&p, Limits { max_depth: 100, ..Limits::default() });
    // Pickled values: an attribute nested 70 lists deep.
    let deep = module_pickle(|p| p.str("cfg").op(&b"]".repeat(70)).op(&b"a".repeat(69)));
    let (_d, p) = zip_case(&archive_entries(&deep, CODE));
    limits_refusal(
        &p,
        Limits::default(),
        "pickled values nested too deeply (or a cycle): nesting depth exceeds the limit of 64",
    );
    converts_with(&p, Limits { max_depth: 100, ..Limits::default() });
}

#[test]
fn limit_tensors() {
    // Zip entries.
    let mut e = archive_entries(&module_pickle(|p| p), CODE);
    e.extend((0..100).map(|i| Entry::stored(&format!("m/extra/e{i}"), b"x")));
    let (_d, p) = zip_case(&e);
    let limits = Limits { max_tensors: 102, ..Limits::default() };
    limits_refusal(
        &p,
        limits,
        "zip archive of 103 entries: tensor count exceeds the limit of 102 (raise it with --max-tensors N)",
    );
    converts_with(&p, Limits { max_tensors: 103, ..Limits::default() });
    // Storage references in a pickle (one storage entry viewed 50 times).
    let pkl = module_pickle(|p| (0..50).fold(p, |p, i| p.str(&format!("w{i}")).tensor("0", 6, 0, &[6], &[1])));
    let mut e = archive_entries(&pkl, CODE);
    e.push(Entry::stored("m/data/0", &[0u8; 24]));
    let (_d, p) = zip_case(&e);
    limits_refusal(
        &p,
        Limits { max_tensors: 49, ..Limits::default() },
        "pickle of more than 49 storages: tensor count exceeds the limit of 49 (raise it with --max-tensors N)",
    );
    converts_with(&p, Limits { max_tensors: 50, ..Limits::default() });
}

#[test]
fn limit_inflated_bytes() {
    let mut e = archive_entries(&module_pickle(|p| p), CODE);
    e[1] = Entry::deflated("m/code/__torch__.py", CODE.as_bytes());
    e.push(Entry::deflated("m/extra/notes", &[b'n'; 100_000]));
    let total = (CODE.len() + 100_000) as u64;
    let (_d, p) = zip_case(&e);
    limits_refusal(
        &p,
        Limits { max_inflated_bytes: total - 1, ..Limits::default() },
        &format!(
            "zip entry 'm/extra/notes' brings the declared inflated size to {total} bytes: decompressed bytes exceeds the limit of {} (raise it with --max-inflated-bytes N)",
            total - 1
        ),
    );
    converts_with(&p, Limits { max_inflated_bytes: total, ..Limits::default() });
    // The copy of a strided view counts too: a [1000, 6] stride-0 view of 6 floats is 24,000 bytes.
    let pkl = module_pickle(|p| p.str("w").tensor("0", 6, 0, &[1000, 6], &[0, 1]));
    let mut e = archive_entries(&pkl, CODE);
    e.push(Entry::stored("m/data/0", &[0u8; 24]));
    let (_d, p) = zip_case(&e);
    limits_refusal(
        &p,
        Limits { max_inflated_bytes: 23_999, ..Limits::default() },
        "takes 24000 bytes: decompressed bytes exceeds the limit of 23999 (raise it with --max-inflated-bytes N)",
    );
    converts_with(&p, Limits { max_inflated_bytes: 24_000, ..Limits::default() });
}
