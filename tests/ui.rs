//! Compile-fail tests: the mistakes a new user makes with the handler API are refused at
//! compile time, with an error that says what to write instead.
//!
//! One test function, so that trybuild builds the crate once for all cases. The `.stderr`
//! snapshots are rustc's exact output (the toolchain is pinned in CI); regenerate them with
//! `TRYBUILD=overwrite cargo test --all-features --test ui` after a toolchain change.

#[test]
#[cfg(all(feature = "zernio", feature = "ayrshare"))]
fn handler_mistakes_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
