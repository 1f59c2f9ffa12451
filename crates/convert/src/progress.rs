//! The terminal progress bar behind [`ir::Progress`].

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ir::ProgressHandle;

/// Work smaller than this finishes too fast for a bar to help.
const MIN_BYTES: u64 = 32 << 20;

struct Bar(Mutex<Option<ProgressBar>>);

impl ir::Progress for Bar {
    fn begin(&self, what: &str, total: u64) {
        if total < MIN_BYTES {
            return;
        }
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        pb.set_message(what.to_string());
        *self.0.lock().expect("not poisoned") = Some(pb);
    }

    fn advance(&self, bytes: u64) {
        if let Some(pb) = &*self.0.lock().expect("not poisoned") {
            pb.inc(bytes);
        }
    }

    fn end(&self) {
        if let Some(pb) = self.0.lock().expect("not poisoned").take() {
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
