//! Helpers shared by the integration tests of kiln-ir: `parse` for the
//! parse-error tests, `build` for IR built directly. (The checks every crate
//! shares live in the library: `kiln_ir::schedule::testing`.)

#![allow(dead_code)]

pub mod build;
pub mod parse;
