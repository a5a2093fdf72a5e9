//! Compile-fail tests of `tensor_func!`: one misuse per file under `tests/ui/<topic>/`,
//! each with the exact compiler output in the `.stderr` next to it.
//!
//! Regenerate the expected output after a deliberate change of a message with
//! `TRYBUILD=overwrite cargo test --release --test compile_fail`, then review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
