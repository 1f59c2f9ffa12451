//! The `convert` binary: the command line of [`convert::cli`].

fn main() -> std::process::ExitCode {
    let code = convert::cli::main(std::env::args_os());
    // Exit codes are 0..=6 (see `convert::report::FailureKind`).
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}
