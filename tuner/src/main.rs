//! `tuner`: `cargo run --release -p tuner -- tune|list|show|bench|machine ..`
//! (installed as `cargo kiln ..` too: `src/bin/cargo-kiln.rs`).

fn main() {
    tuner::cli::main_with(std::env::args_os(), "tuner");
}
