//! Hostile input tensor files (`--inputs`, `--calibration`, `convert run`):
//! `.npy`, `.npz` and ONNX `TensorProto` `.pb`. Every file is built here, by
//! code, and read through `ir::tensor_file` (the one reader behind those
//! flags) under the suites' 2 GiB address-space cap. Each refusal must be one
//! line starting with the file's path, say what is wrong, and leave the file
//! as it was.

use std::path::{Path, PathBuf};

use fmt_onnx::generated::onnx::{StringStringEntryProto, TensorProto, tensor_proto::DataLocation};
use ir::{Buffer, Limits, Tensor};
use prost::Message;
use workspace_tests::hostile::memory_cap;

// ---------------------------------------------------------------------------
// Helpers.

/// Reads `path` with `limits`, which must fail; checks the message is one
/// line starting with the path, contains `expected`, and that the file is
/// unchanged. Returns the message.
#[track_caller]
fn refuse_with(path: &Path, limits: &Limits, expected: &str) -> String {
    memory_cap();
    // The `.pb` codec is registered by the ONNX format crate.
    let _ = convert::registry();
    let before = std::fs::read(path).unwrap();
    let msg = match ir::tensor_file::read_with(path, limits) {
        Ok(v) => panic!("{} was read ({} arrays) although it is malformed", path.display(), v.len()),
        Err(e) => e.to_string(),
    };
    assert!(!msg.contains('\n'), "message is not one line: {msg:?}");
    assert!(msg.starts_with(&path.display().to_string()), "message does not start with {}: {msg}", path.display());
    assert!(msg.contains(expected), "expected the refusal of {} to say '{expected}', got: {msg}", path.display());
    assert_eq!(std::fs::read(path).unwrap(), before, "{} was modified", path.display());
    msg
}

#[track_caller]
fn refuse(path: &Path, expected: &str) -> String {
    refuse_with(path, &Limits::default(), expected)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A `.npy` image with the given version and header text (not padded).
fn npy(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = b"\x93NUMPY".to_vec();
    v.extend_from_slice(&[version, 0]);
    if version == 1 {
        v.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        v.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

fn header(descr: &str, fortran: &str, shape: &str) -> String {
    format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}\n")
}

fn f32s(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect()
}

/// A valid `.npy` of a `[2, 3]` f32 array.
fn good_npy() -> Vec<u8> {
    ir::tensor_file::encode(&Tensor::from_vec(vec![2, 3], (0..6).map(|i| i as f32).collect::<Vec<_>>()).unwrap())
        .unwrap()
}

/// CRC-32 (IEEE), as zip stores it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Deflate-format bytes of `data` in stored blocks (valid deflate, no
/// compression), so the tests control every size without a compressor.
fn deflate_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        out.extend_from_slice(&(c.len() as u16).to_le_bytes());
        out.extend_from_slice(&(!(c.len() as u16)).to_le_bytes());
        out.extend_from_slice(c);
    }
    out
}

/// One zip member as it will be written, sizes as declared (they may lie).
struct Member {
    name: String,
    /// 0 stored, 8 deflated.
    method: u16,
    /// The bytes in the archive.
    payload: Vec<u8>,
    crc: u32,
    /// The declared inflated size.
    size: u64,
}

impl Member {
    fn stored(name: &str, data: &[u8]) -> Self {
        Member { name: name.into(), method: 0, payload: data.to_vec(), crc: crc32(data), size: data.len() as u64 }
    }

    fn deflated(name: &str, data: &[u8]) -> Self {
        Member {
            name: name.into(),
            method: 8,
            payload: deflate_stored(data),
            crc: crc32(data),
            size: data.len() as u64,
        }
    }
}

/// A zip archive of `members`; a declared size past 4 GiB goes in a zip64
/// extra field, as zip writers do.
fn zip(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for m in members {
        let offset = out.len() as u32;
        let big = m.size > u64::from(u32::MAX - 1);
        let extra: Vec<u8> = if big {
            let mut e = vec![1, 0, 8, 0];
            e.extend_from_slice(&m.size.to_le_bytes());
            e
        } else {
            Vec::new()
        };
        let size32 = if big { u32::MAX } else { m.size as u32 };
        let fields = |v: &mut Vec<u8>| {
            v.extend_from_slice(&[20, 0, 0, 0]); // version needed, flags
            v.extend_from_slice(&m.method.to_le_bytes());
            v.extend_from_slice(&[0, 0, 0x21, 0]); // time, date (1980-01-01)
            v.extend_from_slice(&m.crc.to_le_bytes());
            v.extend_from_slice(&(m.payload.len() as u32).to_le_bytes());
            v.extend_from_slice(&size32.to_le_bytes());
            v.extend_from_slice(&(m.name.len() as u16).to_le_bytes());
            v.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        fields(&mut out);
        out.extend_from_slice(m.name.as_bytes());
        out.extend_from_slice(&extra);
        out.extend_from_slice(&m.payload);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&[20, 0]); // version made by
        fields(&mut central);
        central.extend_from_slice(&[0; 8]); // comment length, disk, attributes
        central.extend_from_slice(&[0; 2]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(m.name.as_bytes());
        central.extend_from_slice(&extra);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0; 2]);
    out
}

// ---------------------------------------------------------------------------
// The control cases: what the hostile ones are variations of.

#[test]
fn well_formed_files_are_read() {
    memory_cap();
    let _ = convert::registry();
    let dir = tempfile::tempdir().unwrap();
    let t = ir::tensor_file::read_one(&write(dir.path(), "x.npy", &good_npy())).unwrap();
    assert_eq!(t.shape(), [2, 3]);
    let p = write(
        dir.path(),
        "x.npz",
        &zip(&[Member::stored("a.npy", &good_npy()), Member::deflated("b/c.npy", &good_npy())]),
    );
    let all = ir::tensor_file::read(&p).unwrap();
    let keys: Vec<_> = all.iter().map(|(k, _)| k.clone().unwrap()).collect();
    assert_eq!(keys, ["a", "b/c"]);
    assert!(all.iter().all(|(_, v)| *v == t));
    let pb = TensorProto { data_type: 1, dims: vec![2], raw_data: f32s(2).into(), ..Default::default() };
    let p = write(dir.path(), "x.pb", &pb.encode_to_vec());
    assert_eq!(ir::tensor_file::read_one(&p).unwrap().shape(), [2]);
}

// ---------------------------------------------------------------------------
// `.npy`

#[test]
fn npy_wrong_magic_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    refuse(&write(dir.path(), "empty.npy", b""), "not a .npy file (bad magic)");
    refuse(&write(dir.path(), "zip.npy", b"PK\x03\x04\x14\x00\x00\x00"), "not a .npy file (bad magic)");
    let mut v4 = good_npy();
    v4[6] = 4;
    refuse(&write(dir.path(), "v4.npy", &v4), ".npy version 4 is not supported");
    refuse(&write(dir.path(), "no_version.npy", b"\x93NUMPY"), "truncated before the version");
    refuse(&write(dir.path(), "no_length.npy", b"\x93NUMPY\x01\x00\x10"), "truncated before the header length");
    refuse(
        &write(dir.path(), "no_length3.npy", b"\x93NUMPY\x03\x00\x10\x00\x00"),
        "truncated before the header length",
    );
}

#[test]
fn npy_header_lengths_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let h = header("<f4", "False", "(2,)");
    for (version, len) in [(1u8, u64::from(u16::MAX)), (2, u64::from(u32::MAX)), (3, u64::from(u32::MAX))] {
        let mut b = npy(version, &h, &f32s(2));
        if version == 1 {
            b[8..10].copy_from_slice(&(len as u16).to_le_bytes());
        } else {
            b[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        }
        let p = write(dir.path(), &format!("v{version}.npy"), &b);
        refuse(&p, &format!("header of {len} bytes is past the end of the {}-byte file", b.len()));
    }
}

#[test]
fn npy_bad_headers() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, String, &[u8], &str)] = &[
        ("unicode", header("<U8", "False", "(2,)"), &[0; 64], "unsupported dtype '<U8'"),
        ("object", header("|O", "False", "(2,)"), &[0; 16], "unsupported dtype '|O'"),
        ("big_endian", header(">f4", "False", "(2,)"), &[0; 8], "unsupported dtype '>f4'"),
        ("no_descr", "{'fortran_order': False, 'shape': (2,), }\n".into(), &[0; 8], "header has no 'descr'"),
        ("no_shape", "{'descr': '<f4', 'fortran_order': False, }\n".into(), &[0; 8], "header has no 'shape'"),
        ("fortran", header("<f4", "True", "(2, 2)"), &[0; 16], "Fortran-ordered arrays are not supported"),
        ("negative_dim", header("<f4", "False", "(-1,)"), &[0; 4], "bad shape (-1,)"),
        ("word_dim", header("<f4", "False", "(two,)"), &[0; 4], "bad shape (two,)"),
        ("dim_past_u64", header("<f4", "False", "(18446744073709551616,)"), &[0; 4], "bad shape"),
        ("shape_overflows", header("<f4", "False", "(4294967296, 4294967296)"), &[0; 4], "shape overflows"),
        ("bytes_overflow", header("<f8", "False", "(4611686018427387904,)"), &[0; 8], "shape overflows"),
        ("u64_max_dim", header("<f4", "False", "(18446744073709551615,)"), &[0; 4], "shape overflows"),
    ];
    for (name, h, data, want) in cases {
        refuse(&write(dir.path(), &format!("{name}.npy"), &npy(1, h, data)), want);
    }
    let mut not_text = npy(1, &header("<f4", "False", "(1,)"), &[0; 4]);
    not_text[12] = 0xff;
    refuse(&write(dir.path(), "not_text.npy", &not_text), "header is not text");
}

#[test]
fn npy_data_shorter_or_longer_than_the_shape() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_npy();
    refuse(
        &write(dir.path(), "short.npy", &good[..good.len() - 1]),
        "f32 array of shape [2, 3] needs 24 data bytes, file has 23",
    );
    let mut long = good.clone();
    long.push(0);
    refuse(&write(dir.path(), "long.npy", &long), "needs 24 data bytes, file has 25");
    // A huge shape with no data allocates nothing.
    let huge = npy(1, &header("<f4", "False", "(1000000000, 100)"), &[]);
    refuse(&write(dir.path(), "huge.npy", &huge), "needs 400000000000 data bytes, file has 0");
}

#[test]
fn npy_truncated_at_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_npy();
    let data_start = good.len() - 24;
    for cut in 0..good.len() {
        let p = write(dir.path(), &format!("cut{cut}.npy"), &good[..cut]);
        let want = match cut {
            0..6 => "bad magic",
            6 => "truncated before the version",
            7..10 => "truncated before the header length",
            c if c < data_start => "is past the end of the",
            _ => "data bytes, file has",
        };
        refuse(&p, want);
    }
}

// ---------------------------------------------------------------------------
// `.npz`

#[test]
fn npz_not_a_zip_and_truncated_at_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    refuse(&write(dir.path(), "npy.npz", &good_npy()), "not a .npz (zip) file");
    refuse(&write(dir.path(), "empty.npz", b""), "not a .npz (zip) file");
    let good = zip(&[Member::stored("a.npy", &good_npy()), Member::deflated("b.npy", &good_npy())]);
    for cut in 0..good.len() {
        let p = write(dir.path(), &format!("cut{cut}.npz"), &good[..cut]);
        // Every cut loses the end of the central directory, which zip readers start from.
        refuse(&p, "not a .npz (zip) file");
    }
}

#[test]
fn npz_member_names_with_dotdot_or_absolute_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in ["../x.npy", "a/../../x.npy", "/etc/x.npy"].iter().enumerate() {
        let p = write(dir.path(), &format!("n{i}.npz"), &zip(&[Member::stored(name, &good_npy())]));
        refuse(&p, &format!("member '{name}' has an absolute name or one with '..'"));
    }
}

#[test]
fn npz_bombs_are_refused_before_inflating() {
    let dir = tempfile::tempdir().unwrap();
    let data = good_npy();
    // Declares a terabyte (zip64 size) for a few bytes of deflate.
    let mut tb = Member::deflated("tb.npy", &data);
    tb.size = 1 << 40;
    let p = write(dir.path(), "tb.npz", &zip(&[tb]));
    refuse(&p, "member 'tb.npy' declares 1099511627776 bytes inflated from");
    refuse(&p, "(a zip bomb?)");
    // A ratio over 1000:1 that still fits in 32 bits.
    let mut ratio = Member::deflated("r.npy", &data);
    let compressed = ratio.payload.len() as u64;
    ratio.size = compressed * 2000;
    let p = write(dir.path(), "ratio.npz", &zip(&[ratio]));
    refuse(
        &p,
        &format!("member 'r.npy' declares {} bytes inflated from {compressed} (a zip bomb?)", compressed * 2000),
    );
    // A believable ratio whose stream holds less than it declares: the
    // reader stops at what is there and says so.
    let mut short = Member::deflated("s.npy", &data);
    short.size = data.len() as u64 + 100;
    refuse(&write(dir.path(), "short.npz", &zip(&[short])), "member 's.npy'");
    // A stored member whose sizes disagree.
    let mut stored = Member::stored("st.npy", &data);
    stored.size += 8;
    refuse(&write(dir.path(), "stored.npz", &zip(&[stored])), "member 'st.npy'");
}

#[test]
fn npz_broken_members_name_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = good_npy();
    bad[0] = b'X';
    let p = write(
        dir.path(),
        "bad.npz",
        &zip(&[Member::stored("good.npy", &good_npy()), Member::deflated("bad.npy", &bad)]),
    );
    let msg = refuse(&p, "not a .npy file (bad magic)");
    assert!(msg.starts_with(&p.join("bad.npy").display().to_string()), "{msg}");
}

#[test]
fn npz_inflated_bytes_limit() {
    let dir = tempfile::tempdir().unwrap();
    let big = ir::tensor_file::encode(&Tensor::from_vec(vec![4096], vec![1f32; 4096]).unwrap()).unwrap();
    let p = write(dir.path(), "big.npz", &zip(&[Member::deflated("a.npy", &big), Member::deflated("b.npy", &big)]));
    // Just over: the second member passes the limit.
    let limits = Limits { max_inflated_bytes: big.len() as u64 * 2 - 1, ..Limits::default() };
    refuse_with(
        &p,
        &limits,
        &format!(
            "member 'b.npy': decompressed bytes exceeds the limit of {} (raise it with --max-inflated-bytes N)",
            big.len() * 2 - 1
        ),
    );
    let raised = Limits { max_inflated_bytes: big.len() as u64 * 2, ..Limits::default() };
    assert_eq!(ir::tensor_file::read_with(&p, &raised).unwrap().len(), 2);
    // Stored members are views of the file, not inflated: not counted.
    let p = write(dir.path(), "stored.npz", &zip(&[Member::stored("a.npy", &big), Member::stored("b.npy", &big)]));
    assert_eq!(
        ir::tensor_file::read_with(&p, &Limits { max_inflated_bytes: 0, ..Limits::default() }).unwrap().len(),
        2
    );
}

#[test]
fn npz_member_count_limit() {
    let dir = tempfile::tempdir().unwrap();
    let members: Vec<Member> = (0..3).map(|i| Member::stored(&format!("m{i}.npy"), &good_npy())).collect();
    let p = write(dir.path(), "three.npz", &zip(&members));
    let limits = Limits { max_tensors: 2, ..Limits::default() };
    refuse_with(&p, &limits, "members: tensor count exceeds the limit of 2 (raise it with --max-tensors N)");
    assert_eq!(ir::tensor_file::read_with(&p, &Limits { max_tensors: 3, ..Limits::default() }).unwrap().len(), 3);
}

// ---------------------------------------------------------------------------
// `.pb` (ONNX TensorProto)

#[test]
fn pb_garbage_and_wrong_tensors() {
    let dir = tempfile::tempdir().unwrap();
    refuse(&write(dir.path(), "garbage.pb", &[0xff; 32]), "not a valid TensorProto: protobuf");
    refuse(&write(dir.path(), "npy.pb", &good_npy()), "not a valid TensorProto");
    let cases: Vec<(&str, TensorProto, &str)> = vec![
        (
            "huge_dims",
            TensorProto { data_type: 1, dims: vec![1 << 40, 1 << 40], ..Default::default() },
            "dimensions [1099511627776, 1099511627776] overflow",
        ),
        (
            "huge_dims_no_data",
            TensorProto { data_type: 1, dims: vec![1 << 20, 1 << 20], ..Default::default() },
            "f32 tensor of shape [1048576, 1048576] needs 1099511627776 values in float_data, found 0",
        ),
        ("u64_max_dim", TensorProto { data_type: 1, dims: vec![i64::MAX, 2], ..Default::default() }, "overflow"),
        (
            "negative_dim",
            TensorProto { data_type: 1, dims: vec![-3], ..Default::default() },
            "negative dimension -3 in [-3]",
        ),
        (
            "raw_too_short",
            TensorProto { data_type: 1, dims: vec![3], raw_data: f32s(2).into(), ..Default::default() },
            "f32 tensor of shape [3] needs 12 bytes of raw_data, found 8",
        ),
        ("no_dtype", TensorProto { dims: vec![1], ..Default::default() }, "tensor has no data type (UNDEFINED)"),
        (
            "unknown_dtype",
            TensorProto { data_type: 99, dims: vec![1], ..Default::default() },
            "unknown ONNX data type code 99",
        ),
    ];
    for (name, t, want) in cases {
        refuse(&write(dir.path(), &format!("{name}.pb"), &t.encode_to_vec()), want);
    }
}

#[test]
fn pb_external_data_outside_the_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.bin"), f32s(2)).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("secret.bin"), dir.path().join("link.bin")).unwrap();
    let ext = |location: &str| TensorProto {
        data_type: 1,
        dims: vec![2],
        data_location: DataLocation::External as i32,
        external_data: vec![StringStringEntryProto { key: "location".into(), value: location.into() }],
        ..Default::default()
    };
    let escape = format!("../{}/secret.bin", outside.path().file_name().unwrap().to_string_lossy());
    let cases = [
        (escape.as_str(), "escapes the model's folder ('..' is not allowed)"),
        ("/etc/passwd", "is absolute"),
        ("link.bin", "resolves (through a symbolic link) outside the model's folder"),
    ];
    for (i, (location, want)) in cases.iter().enumerate() {
        refuse(&write(dir.path(), &format!("e{i}.pb"), &ext(location).encode_to_vec()), want);
    }
}

#[test]
fn pb_truncated_at_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    let t = TensorProto {
        data_type: 1,
        dims: vec![2, 2],
        name: "x".into(),
        raw_data: f32s(4).into(),
        ..Default::default()
    };
    let good = t.encode_to_vec();
    for cut in 0..good.len() {
        let p = write(dir.path(), &format!("cut{cut}.pb"), &good[..cut]);
        memory_cap();
        let _ = convert::registry();
        // Some prefixes are whole messages (an empty tensor has no dtype):
        // every one is refused, one line, naming the file.
        let e = ir::tensor_file::read(&p).expect_err("a truncated tensor is refused").to_string();
        assert!(e.starts_with(&p.display().to_string()) && !e.contains('\n'), "cut {cut}: {e}");
    }
}

// ---------------------------------------------------------------------------
// Through `convert verify`/`convert run`'s path.

#[test]
fn input_files_for_verify_are_refused_naming_the_file() {
    memory_cap();
    let _ = convert::registry();
    let dir = tempfile::tempdir().unwrap();
    let x = ir::ValueInfo::tensor("x", ir::DType::F32, Some(ir::Shape::fixed(&[2, 3])));
    let graph = ir::Graph {
        inputs: vec![x.clone()],
        outputs: vec![ir::ValueInfo::tensor("y", ir::DType::F32, Some(ir::Shape::fixed(&[2, 3])))],
        nodes: vec![ir::Node {
            op: "Relu".into(),
            name: "r".into(),
            inputs: vec![Some("x".into())],
            outputs: vec!["y".into()],
            ..ir::Node::default()
        }],
        ..ir::Graph::default()
    };
    let model = ir::Model::new(graph);
    let good = write(dir.path(), "good.npy", &good_npy());
    let opts = |p: &Path| convert::verify::InputOptions {
        files: vec![convert::verify::InputFile::Positional(p.to_path_buf())],
        ..Default::default()
    };
    assert!(convert::verify::make_inputs(&model, &opts(&good)).is_ok());
    let mut bad = good_npy();
    bad.truncate(bad.len() - 4);
    for (name, bytes, want) in [
        ("bad.npy", bad, "needs 24 data bytes, file has 20"),
        ("bad.npz", b"PK\x05\x06".to_vec(), "not a .npz (zip) file"),
        ("bad.pb", vec![0xff; 8], "not a valid TensorProto"),
    ] {
        let p = write(dir.path(), name, &bytes);
        let e = convert::verify::make_inputs(&model, &opts(&p)).map(|_| ()).unwrap_err().to_string();
        assert!(e.starts_with(&p.display().to_string()) && e.contains(want) && !e.contains('\n'), "{name}: {e}");
    }
}

#[test]
fn npy_parse_of_an_in_memory_image_names_it() {
    let e = ir::tensor_file::parse(Buffer::from_vec(vec![0x93]), Path::new("mem.npy")).unwrap_err().to_string();
    assert_eq!(e, "mem.npy: not a .npy file (bad magic)");
}
