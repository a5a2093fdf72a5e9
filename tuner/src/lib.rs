//! kiln's tuner: MetaSchedule's loop, made for ahead-of-time Rust.
//!
//! `cargo run --release -p tuner -- tune` finds every `tensor_func!` of the
//! workspace (`discover`), samples programs of each kernel's design space
//! (`task`, `search`, `mutator`), ranks them with a cost model (`features`,
//! `cost_model`, `gbt`), compiles them in batches (`builder`), checks and
//! times them in a separate process (`runner`), keeps every measurement
//! (`database`) and what it tells about a task (`state`), and writes the
//! best trace per kernel and ISA to `<crate>/traces/<kernel>.json`
//! (`commit`), with a table and tuning curves (`report`). `tune` is the
//! loop; `options` says how to run it; `cli` and `bench` are the command
//! line, and `peers` the BLAS crates `bench --peers` times beside kiln's
//! code. Every fallible public function returns [`Error`].
//!
//! Modules, lowest first (each uses only modules before it):
//! `error`, `machine`, `gbt`, `features`, `database`, `probe`, `runner`, `task`,
//! `builder`, `peers`, `cost_model`, `mutator`, `search`, `confirm`, `discover`,
//! `options`, `state`, `commit`, `isa_choice`, `report`, `tune`, `bench`, `cli`.
//!
//! The library API mirrors the chapter: [`random_search`] is its
//! `random_search`, [`tune_func`] its `ms.tune_tir`, and [`tune`] tunes many
//! tasks.
//!
//! ```no_run
//! # let func = kiln_ir::schedule::testing::matmul(128, 128, 128);
//! use kiln_ir::target::Isa;
//! let (sch, latency_us) = tuner::random_search(&func, Isa::Avx2, 16, 0, "target/kiln-tune".as_ref()).unwrap();
//! println!("{} µs\n{}", latency_us, sch.trace());
//! ```

pub mod bench;
pub mod builder;
pub mod cli;
pub mod commit;
pub mod confirm;
pub mod cost_model;
pub mod database;
pub mod discover;
pub mod error;
pub mod features;
pub mod gbt;
pub mod isa_choice;
pub mod machine;
pub mod mutator;
pub mod options;
pub mod peers;
pub mod probe;
pub mod report;
pub mod runner;
pub mod search;
pub mod state;
pub mod task;
pub mod tune;

pub use error::{Error, Result};
pub use options::TuneOptions;
pub use report::TaskReport;
pub use search::StrategyKind;
pub use state::TuningState;
pub use task::{Program, Space, Task};
pub use tune::{random_search, random_search_space, tune, tune_func, tune_func_space};
