//! Fuzzing the text form: no input may make the parser panic, overflow the
//! stack or hang, and whatever parses must print to a canonical text that
//! reads back into the same tree.
//!
//! Run it from `crates/pitcrew-filter` with a nightly toolchain and
//! `cargo install cargo-fuzz`:
//!
//! ```text
//! cargo +nightly fuzz run parse                     # until stopped
//! cargo +nightly fuzz run parse -- -max_total_time=300 -max_len=4096
//! ```
//!
//! Findings land in `fuzz/artifacts/parse/`; replay one with
//! `cargo +nightly fuzz run parse fuzz/artifacts/parse/<file>`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pitcrew_filter::{parse, to_text};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(segment) = parse(text) else {
        return;
    };
    let printed = to_text(&segment);
    assert_eq!(
        parse(&printed),
        Ok(segment),
        "the canonical text does not read back:\n{printed}"
    );
});
