//! `convert` with OpenVINO IR on the command line: ONNX → IR and IR → ONNX
//! with `--verify` on every fixture (the ONNX ones and the IRs OpenVINO
//! wrote), and a broken IR giving a one-line error and a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").canonicalize().expect("fixtures exist")
}

/// Runs the binary; returns (success, stdout, stderr).
fn convert(args: &[&Path]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_convert"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the convert binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn onnx_to_openvino_and_back_verify() {
    let dir = tempfile::tempdir().unwrap();
    for case in ["cnn_bn_residual", "transformer_encoder", "mlp", "dynamic_batch"] {
        let src = fixtures().join("onnx").join(case).join("model.onnx");
        let xml = dir.path().join(format!("{case}.xml"));
        let (ok, out, err) = convert(&[&src, &xml, Path::new("--verify")]);
        assert!(ok, "{case}: onnx -> openvino failed: {err}");
        assert!(out.contains("verify: all"), "{case}: {out}");
        assert!(format!("{out}{err}").contains("(openvino)"), "{case}: the summary names the format");
        assert!(xml.with_extension("bin").is_file(), "{case}: the .bin is written beside the .xml");
        let back = dir.path().join(format!("{case}.onnx"));
        let (ok, out, err) = convert(&[&xml, &back, Path::new("--verify")]);
        assert!(ok, "{case}: openvino -> onnx failed: {err}");
        assert!(out.contains("verify: all"), "{case}: {out}");
    }
}

#[test]
fn openvino_written_irs_convert_to_onnx_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    // Each fixture folder is `<onnx case>_<variant>` and ran on that case's input.
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures().join("openvino"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.xml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "fp32 and fp16 fixtures of four models");
    for case in cases {
        let name = case.file_name().unwrap().to_str().unwrap().to_string();
        let source = name.rsplit_once('_').unwrap().0;
        let xml = case.join("model.xml");
        let input = fixtures().join("onnx").join(source).join("input_0.npy");
        let out = dir.path().join(format!("{name}.onnx"));
        let (ok, stdout, err) = convert(&[&xml, &out, Path::new("--verify"), Path::new("--inputs"), &input]);
        assert!(ok, "{name}: {err}");
        assert!(stdout.contains("verify: all"), "{name}: {stdout}");
    }
}

#[test]
fn a_broken_ir_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("m.xml");
    std::fs::write(
        &xml,
        r#"<net name="m" version="11"><layers>
<layer id="0" name="w" type="Const" version="opset1"><data element_type="f32" shape="4" offset="0" size="16"/>
<output><port id="0" precision="FP32"/></output></layer>
<layer id="1" name="r" type="Result" version="opset1"><input><port id="0" precision="FP32"/></input></layer>
</layers><edges><edge from-layer="0" from-port="0" to-layer="1" to-port="0"/></edges></net>"#,
    )
    .unwrap();
    std::fs::write(xml.with_extension("bin"), [0u8; 8]).unwrap();
    let out = dir.path().join("m.onnx");
    let (ok, _, err) = convert(&[&xml, &out]);
    assert!(!ok);
    let line = err.trim_end();
    assert!(!line.contains('\n'), "one line: {line}");
    assert!(line.contains("m.xml: layer id 0 ('w', Const): offset 0 + size 16 is past the end of"), "{line}");
    assert!(!out.exists(), "nothing written");
}
