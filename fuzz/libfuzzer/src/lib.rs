//! One macro makes each fuzz target: libFuzzer's bytes go to
//! `fuzz_harness::run`, and half of its mutations are the harness's
//! structure-aware ones (decode, change what a hostile writer would,
//! encode) where the target has them.

pub use fuzz_harness;
pub use libfuzzer_sys;

/// Defines the fuzz target, the mutator and the capped allocator for the
/// harness target named `$name`.
#[macro_export]
macro_rules! target {
    ($name:literal) => {
        #[global_allocator]
        static ALLOC: $crate::fuzz_harness::CappedAlloc = $crate::fuzz_harness::CappedAlloc::new();

        fn the_target() -> &'static $crate::fuzz_harness::Target {
            $crate::fuzz_harness::target($name).expect("target is in fuzz_harness::TARGETS")
        }

        $crate::libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            $crate::fuzz_harness::run(the_target(), data);
        });

        $crate::libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
            if seed % 2 == 0
                && let Some(m) = $crate::fuzz_harness::mutate(the_target(), &data[..size], u64::from(seed))
                && m.len() <= max_size
            {
                data[..m.len()].copy_from_slice(&m);
                return m.len();
            }
            $crate::libfuzzer_sys::fuzzer_mutate(data, size, max_size)
        });
    };
}
