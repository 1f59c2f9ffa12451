//! The terminal progress bar behind [`ir::Progress`].

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ir::ProgressHandle;

/// Work that ends sooner than this never shows a bar: a flash of a bar is noise.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// The bar (hidden until [`SHOW_AFTER`] has passed) and when its work began.
struct Bar(Mutex<Option<(ProgressBar, Instant, bool)>>);

impl ir::Progress for Bar {
    fn begin(&self, what: &str, total: u64) {
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        pb.set_message(what.to_string());
        *self.0.lock().expect("not poisoned") = Some((pb, Instant::now(), false));
    }

    fn advance(&self, bytes: u64) {
        if let Some((pb, start, shown)) = &mut *self.0.lock().expect("not poisoned") {
            pb.inc(bytes);
            if !*shown && start.elapsed() >= SHOW_AFTER {
                // The rate so far is kept: indicatif measures from its creation.
                pb.set_draw_target(ProgressDrawTarget::stderr());
                *shown = true;
            }
        }
    }

    fn end(&self) {
        if let Some((pb, ..)) = self.0.lock().expect("not poisoned").take() {
            pb.finish_and_clear();
        }
    }
}

/// A progress handle drawing on stderr when it is a terminal and not `quiet`.
pub fn handle(quiet: bool) -> ProgressHandle {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressHandle(None);
    }
    ProgressHandle(Some(Arc::new(Bar(Mutex::new(None)))))
}
