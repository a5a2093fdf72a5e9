//! kiln's compiler core.
//!
//! Shared by the `tensor_func!` macro and the tuner: the language parser, the
//! IR and its printer, the reference interpreter, schedules and traces, and the
//! code generator.

pub mod build_script;
pub mod codegen;
pub mod interp;
pub mod ir;
pub mod parse;
pub mod prepack;
pub mod program;
pub mod schedule;
pub mod space;
pub mod target;
pub mod trace;
pub mod tracefile;
