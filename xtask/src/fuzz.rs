//! `cargo xtask fuzz`: runs the cargo-fuzz targets in `fuzz/` (one per
//! importer and inner parser, see `fuzz_harness::TARGETS`) for a while
//! each, prints one row per target (executions, coverage, crashes), saves
//! each crash input minimised to `fuzz/regressions/<target>/` (which
//! `cargo test --workspace` replays), and appends the run to
//! `fuzz/runs.tsv`, the ledger behind the totals in `docs/robustness.md`.
//!
//! The targets are built with coverage instrumentation but no sanitizer
//! (Rust code needs none for memory safety and it halves the speed), with
//! debug assertions and overflow checks on (an overflow on a file's field
//! is a bug we want as a crash), and with `fuzz_harness::CappedAlloc`
//! aborting past 2 GiB of live heap. libFuzzer adds the rest of the bar:
//! `-timeout=10` (seconds per input) and `-rss_limit_mb=2048`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{Outcome, Workspace};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Seconds of fuzzing per target.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Targets to run (default: all); see --list.
    targets: Vec<String>,
    /// Targets run at the same time (each uses one core).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// List the targets and the executions each has run so far (from fuzz/runs.tsv), then stop.
    #[arg(long)]
    list: bool,
    /// Print the ledger's totals per target as the Markdown table of docs/robustness.md, then stop.
    #[arg(long)]
    table: bool,
    /// Do not minimise crash inputs before saving them.
    #[arg(long)]
    no_minimize: bool,
    /// Largest input in bytes (default: each target's `fuzz_harness::Target::max_len`).
    #[arg(long)]
    max_len: Option<usize>,
    /// Run rounds until every target (or every one named) has this many
    /// executions in the ledger and a clean last run: each round runs the
    /// `--jobs` targets furthest from that, fewest executions first.
    #[arg(long, value_name = "EXECUTIONS")]
    until: Option<u64>,
}

/// `--until`: rounds of the targets still short of `goal` executions or
/// without a clean last run, `--jobs` at a time, fewest executions first;
/// stops at the first round that finds a crash.
fn until(ws: &Workspace, args: &Args, ledger: &Path, goal: u64) -> Result<Outcome> {
    loop {
        let short = short_of(&totals(ledger)?, goal, &args.targets);
        if short.is_empty() {
            println!("every target has {goal} executions or more and a clean last run");
            return Ok(Outcome::Ok);
        }
        let round: Vec<String> = short.iter().take(args.jobs.max(1)).map(|(_, n)| n.to_string()).collect();
        println!("\n== round: {} ({} target(s) short of {goal})", round.join(" "), short.len());
        let one = Args { targets: round, until: None, list: false, table: false, ..args.clone() };
        if let Outcome::CheckFailed = run(ws, one)? {
            // A crash: its input is saved. Stop, so it is fixed before the
            // target runs again (it would find the same crash at once).
            return Ok(Outcome::CheckFailed);
        }
    }
}

/// The targets (all, or those `named`) short of `goal` executions or whose
/// last run crashed (a target never run counts as both), with their
/// executions, fewest first.
fn short_of<'a>(totals: &BTreeMap<String, Total>, goal: u64, named: &[String]) -> Vec<(u64, &'a str)> {
    let mut short: Vec<(u64, &str)> = fuzz_harness::TARGETS
        .iter()
        .filter(|t| named.is_empty() || named.iter().any(|n| n == t.name))
        .filter_map(|t| {
            let (execs, last_crashes) = totals.get(t.name).map_or((0, 1), |r| (r.executions, r.last_crashes));
            (execs < goal || last_crashes > 0).then_some((execs, t.name))
        })
        .collect();
    short.sort();
    short
}

/// The limits of the bar, passed to every libFuzzer run.
const LIBFUZZER_FLAGS: &[&str] = &["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"];

/// cargo-fuzz's build flags: release, debug assertions (and with them
/// overflow checks), no sanitizer.
const BUILD_FLAGS: &[&str] = &["-O", "-a", "-s", "none"];

pub(crate) fn run(ws: &Workspace, args: Args) -> Result<Outcome> {
    let ledger = ws.root.join("fuzz/runs.tsv");
    if args.list || args.table {
        let totals = totals(&ledger)?;
        if args.table {
            print!("{}", markdown(&totals));
        } else {
            for t in fuzz_harness::TARGETS {
                let execs = totals.get(t.name).map_or(0, |r| r.executions);
                println!("{:<18} {:>14} executions so far  {}", t.name, execs, t.about);
            }
        }
        return Ok(Outcome::Ok);
    }
    if let Some(goal) = args.until {
        return until(ws, &args, &ledger, goal);
    }
    let targets: Vec<&fuzz_harness::Target> = if args.targets.is_empty() {
        fuzz_harness::TARGETS.iter().collect()
    } else {
        args.targets
            .iter()
            .map(|n| fuzz_harness::target(n).with_context(|| format!("no fuzz target '{n}' (see --list)")))
            .collect::<Result<_>>()?
    };
    let cargo_fuzz = CargoFuzz::locate(&ws.root)?;
    for t in &targets {
        write_seeds(ws, t)?;
    }
    println!("building the fuzz targets ({})", cargo_fuzz.describe());
    let names: Vec<&str> = targets.iter().map(|t| t.name).collect();
    cargo_fuzz.build(&names)?;

    let mut rows = Vec::new();
    for chunk in targets.chunks(args.jobs.max(1)) {
        let handles: Vec<_> = chunk
            .iter()
            .map(|t| {
                let (cf, root, seconds, minimize) =
                    (cargo_fuzz.clone(), ws.root.clone(), args.seconds, !args.no_minimize);
                let (name, max_len) = (t.name, args.max_len.unwrap_or_else(|| t.max_len()));
                std::thread::spawn(move || fuzz_one(&cf, &root, name, seconds, max_len, minimize))
            })
            .collect();
        for h in handles {
            let row = h.join().map_err(|_| anyhow::anyhow!("fuzz thread panicked"))??;
            println!("{}", row.line());
            append(&ledger, &row)?;
            rows.push(row);
        }
    }
    println!("\n{:<18} {:>12} {:>8} {:>8} {:>8} {:>8}", "target", "executions", "exec/s", "cov", "peak MB", "crashes");
    for r in &rows {
        println!(
            "{:<18} {:>12} {:>8} {:>8} {:>8} {:>8}",
            r.target,
            r.executions,
            r.executions / r.seconds.max(1),
            r.coverage,
            r.peak_rss_mb,
            r.crashes
        );
    }
    let crashed: Vec<&Row> = rows.iter().filter(|r| r.crashes > 0).collect();
    if crashed.is_empty() {
        println!("\nno crash, timeout or memory-limit hit");
        Ok(Outcome::Ok)
    } else {
        println!("\ninputs saved under fuzz/regressions/ (replayed by `cargo test -p fuzz-harness`):");
        for r in crashed {
            for f in &r.saved {
                println!("  {}", f.display());
            }
        }
        Ok(Outcome::CheckFailed)
    }
}

/// How to run cargo-fuzz here: with a nightly toolchain when rustup has one,
/// else with `RUSTC_BOOTSTRAP=1` on stable (cargo-fuzz only needs the
/// unstable `-Z` flags).
#[derive(Debug, Clone)]
struct CargoFuzz {
    root: PathBuf,
    nightly: bool,
    /// The host triple, which cargo-fuzz builds for.
    host: String,
}

impl CargoFuzz {
    fn locate(root: &Path) -> Result<CargoFuzz> {
        let have = Command::new("cargo").args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
        if !have {
            println!("installing cargo-fuzz (cargo install cargo-fuzz --locked)");
            let st = Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]).status()?;
            if !st.success() {
                bail!("cargo install cargo-fuzz failed");
            }
        }
        let toolchains = Command::new("rustup").args(["toolchain", "list"]).output();
        let nightly =
            toolchains.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.starts_with("nightly")));
        let vv = Command::new("rustc").arg("-vV").output().context("rustc -vV")?;
        let host = String::from_utf8_lossy(&vv.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
            .context("rustc -vV printed no host triple")?;
        Ok(CargoFuzz { root: root.to_path_buf(), nightly, host })
    }

    fn describe(&self) -> &'static str {
        if self.nightly { "cargo +nightly fuzz" } else { "RUSTC_BOOTSTRAP=1 cargo fuzz on stable" }
    }

    fn command(&self, sub: &str) -> Command {
        let mut c = Command::new("cargo");
        if self.nightly {
            c.arg("+nightly");
        } else {
            c.env("RUSTC_BOOTSTRAP", "1");
        }
        c.args(["fuzz", sub, "--fuzz-dir"]).arg(self.root.join("fuzz/libfuzzer")).current_dir(&self.root);
        // The workspace's target dir variable would mix instrumented and
        // plain builds; cargo-fuzz keeps its own under fuzz/target.
        c.env_remove("CARGO_TARGET_DIR");
        c
    }

    /// The built fuzz binary of `target` (cargo-fuzz builds for the host triple).
    fn binary(&self, target: &str) -> PathBuf {
        self.root.join("fuzz/libfuzzer/target").join(&self.host).join("release").join(target)
    }

    fn build(&self, targets: &[&str]) -> Result<()> {
        // One `cargo fuzz build` builds every target; naming one builds one.
        if targets.len() == fuzz_harness::TARGETS.len() {
            let st = self.command("build").args(BUILD_FLAGS).status()?;
            if !st.success() {
                bail!("cargo fuzz build failed");
            }
        } else {
            for t in targets {
                let st = self.command("build").args(BUILD_FLAGS).arg(t).status()?;
                if !st.success() {
                    bail!("cargo fuzz build {t} failed");
                }
            }
        }
        Ok(())
    }
}

/// Writes the target's seeds into its corpus folder (kept between runs, so
/// coverage accumulates; not committed).
fn write_seeds(ws: &Workspace, t: &fuzz_harness::Target) -> Result<()> {
    let dir = corpus_dir(&ws.root, t.name);
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    for s in fuzz_harness::seeds(t, &ws.root) {
        let path = dir.join(format!("seed-{:016x}", fnv(&s)));
        if !path.exists() {
            std::fs::write(&path, &s).with_context(|| path.display().to_string())?;
        }
    }
    Ok(())
}

fn corpus_dir(root: &Path, target: &str) -> PathBuf {
    root.join("fuzz/corpus").join(target)
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// One target's run.
#[derive(Debug, Clone, Default)]
struct Row {
    target: String,
    seconds: u64,
    executions: u64,
    coverage: u64,
    features: u64,
    peak_rss_mb: u64,
    crashes: u64,
    saved: Vec<PathBuf>,
}

impl Row {
    fn line(&self) -> String {
        format!(
            "{}: {} executions in {} s, cov {}, ft {}, peak {} MB, {} crash(es)",
            self.target, self.executions, self.seconds, self.coverage, self.features, self.peak_rss_mb, self.crashes
        )
    }
}

/// Fuzzes `target` for `seconds`; after a crash, saves the input and goes on
/// with the time left (libFuzzer stops at the first crash).
fn fuzz_one(cf: &CargoFuzz, root: &Path, target: &str, seconds: u64, max_len: usize, minimize: bool) -> Result<Row> {
    let artifacts = root.join("fuzz/artifacts").join(target);
    std::fs::create_dir_all(&artifacts)?;
    let mut row = Row { target: target.into(), ..Row::default() };
    let start = Instant::now();
    loop {
        let left = seconds.saturating_sub(start.elapsed().as_secs());
        if left < 2 {
            break;
        }
        let before: Vec<PathBuf> = list(&artifacts);
        // The binary built at the start, not `cargo fuzz run` (which would
        // rebuild whatever changed in the tree since).
        let out = Command::new(cf.binary(target))
            .arg(corpus_dir(root, target))
            .args(LIBFUZZER_FLAGS)
            .arg(format!("-max_len={max_len}"))
            .arg(format!("-max_total_time={left}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .output()
            .with_context(|| format!("cargo fuzz run {target}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let stats = parse_stats(&log);
        row.executions += stats.executions;
        row.coverage = row.coverage.max(stats.coverage);
        row.features = row.features.max(stats.features);
        row.peak_rss_mb = row.peak_rss_mb.max(stats.peak_rss_mb);
        let new: Vec<PathBuf> = list(&artifacts).into_iter().filter(|p| !before.contains(p)).collect();
        if out.status.success() && new.is_empty() {
            break;
        }
        if new.is_empty() {
            let tail: Vec<&str> = log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
            bail!("cargo fuzz run {target} failed without an artifact:\n{}", tail.join("\n"));
        }
        for a in new {
            row.crashes += 1;
            row.saved.push(save_regression(cf, root, target, &a, minimize)?);
        }
    }
    row.seconds = start.elapsed().as_secs();
    Ok(row)
}

fn list(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default()
}

/// Minimises a crash input (when asked) and stores it as
/// `fuzz/regressions/<target>/<kind>-<hash>`.
fn save_regression(cf: &CargoFuzz, root: &Path, target: &str, artifact: &Path, minimize: bool) -> Result<PathBuf> {
    let name = artifact.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let kind = name.split('-').next().unwrap_or("crash").to_string();
    let mut bytes = std::fs::read(artifact)?;
    if minimize && kind != "timeout" && kind != "oom" {
        // libFuzzer's own crash minimisation, as `cargo fuzz tmin` runs it.
        let min = artifact.with_extension("min");
        let _ = Command::new(cf.binary(target))
            .args(["-minimize_crash=1", "-runs=5000", "-timeout=10", "-rss_limit_mb=2048"])
            .arg(format!("-exact_artifact_path={}", min.display()))
            .arg(artifact)
            .output()
            .with_context(|| format!("minimising {}", artifact.display()))?;
        if let Ok(b) = std::fs::read(&min)
            && !b.is_empty()
        {
            bytes = b;
        }
        let _ = std::fs::remove_file(&min);
    }
    let dir = root.join("fuzz/regressions").join(target);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{kind}-{:016x}", fnv(&bytes)));
    std::fs::write(&path, &bytes)?;
    Ok(path)
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Stats {
    executions: u64,
    coverage: u64,
    features: u64,
    peak_rss_mb: u64,
}

/// libFuzzer's figures from its log: the final `stat::` lines, else the
/// last status line (`#1234 ... cov: 56 ft: 78 ...`).
fn parse_stats(log: &str) -> Stats {
    let mut s = Stats::default();
    let field = |line: &str, key: &str| -> Option<u64> {
        let mut it = line.split_whitespace();
        it.position(|w| w == key)?;
        it.next()?.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()
    };
    for line in log.lines() {
        if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            s.executions = v.trim().parse().unwrap_or(s.executions);
        } else if let Some(v) = line.strip_prefix("stat::peak_rss_mb:") {
            s.peak_rss_mb = v.trim().parse().unwrap_or(s.peak_rss_mb);
        } else if line.starts_with('#') && line.contains(" cov: ") {
            if let Some(n) = line[1..].split_whitespace().next().and_then(|w| w.parse().ok()) {
                s.executions = s.executions.max(n);
            }
            s.coverage = field(line, "cov:").unwrap_or(s.coverage);
            s.features = field(line, "ft:").unwrap_or(s.features);
        }
    }
    s
}

const LEDGER_HEADER: &str = "date\ttarget\tseconds\texecutions\tcoverage\tfeatures\tpeak_rss_mb\tcrashes\n";

fn append(ledger: &Path, r: &Row) -> Result<()> {
    let new = !ledger.exists();
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(ledger)?;
    if new {
        f.write_all(LEDGER_HEADER.as_bytes())?;
    }
    let date = Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M"]).output()?;
    writeln!(
        f,
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        String::from_utf8_lossy(&date.stdout).trim(),
        r.target,
        r.seconds,
        r.executions,
        r.coverage,
        r.features,
        r.peak_rss_mb,
        r.crashes
    )?;
    Ok(())
}

/// Per target: the sums over the ledger, with the last run's coverage.
#[derive(Debug, Default)]
struct Total {
    runs: u64,
    seconds: u64,
    executions: u64,
    coverage: u64,
    crashes: u64,
    last_crashes: u64,
    last_executions: u64,
}

fn totals(ledger: &Path) -> Result<BTreeMap<String, Total>> {
    let mut out: BTreeMap<String, Total> = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(ledger) else { return Ok(out) };
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let [_, target, seconds, execs, cov, _, _, crashes] = f[..] else { continue };
        let t = out.entry(target.to_string()).or_default();
        let n = |s: &str| s.parse::<u64>().unwrap_or(0);
        t.runs += 1;
        t.seconds += n(seconds);
        t.executions += n(execs);
        t.coverage = n(cov);
        t.crashes += n(crashes);
        t.last_crashes = n(crashes);
        t.last_executions = n(execs);
    }
    Ok(out)
}

fn markdown(totals: &BTreeMap<String, Total>) -> String {
    let mut s = String::from(
        "| target | what | runs | seconds | executions | coverage (last run) | crashes found | last run |\n|---|---|---:|---:|---:|---:|---:|---|\n",
    );
    for t in fuzz_harness::TARGETS {
        let z = Total::default();
        let r = totals.get(t.name).unwrap_or(&z);
        let last = if r.runs == 0 {
            "not run".to_string()
        } else if r.last_crashes == 0 {
            format!("clean ({} executions)", r.last_executions)
        } else {
            format!("{} crash(es)", r.last_crashes)
        };
        s += &format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            t.name, t.about, r.runs, r.seconds, r.executions, r.coverage, r.crashes, last
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_figures() {
        let log = "#2\tINITED cov: 10 ft: 12 corp: 1/1b\n#4096\tpulse  cov: 1234 ft: 5678 corp: 9/99b lim: 4 exec/s: 2048 rss: 40Mb\n\
                   Done 123456 runs in 60 second(s)\nstat::number_of_executed_units: 123456\nstat::peak_rss_mb: 77\n";
        assert_eq!(parse_stats(log), Stats { executions: 123_456, coverage: 1234, features: 5678, peak_rss_mb: 77 });
    }

    #[test]
    fn until_picks_the_targets_short_of_the_goal_fewest_first() {
        let mut totals = BTreeMap::new();
        for t in fuzz_harness::TARGETS {
            totals.insert(t.name.to_string(), Total { executions: 100, ..Total::default() });
        }
        totals.insert("onnx".into(), Total { executions: 50, ..Total::default() });
        totals.insert("npy".into(), Total { executions: 200, last_crashes: 1, ..Total::default() });
        totals.remove("pickle");
        let short = short_of(&totals, 100, &[]);
        assert_eq!(short, vec![(0, "pickle"), (50, "onnx"), (200, "npy")]);
        assert_eq!(short_of(&totals, 100, &["onnx".into(), "tf_saved".into()]), vec![(50, "onnx")]);
        assert!(short_of(&totals, 0, &["tf_saved".into()]).is_empty());
    }
}
