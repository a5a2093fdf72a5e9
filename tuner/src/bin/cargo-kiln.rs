//! `cargo kiln tune|list|show|bench|machine ..`: the tuner as a cargo
//! subcommand, for `cargo install --path tuner` (which installs `tuner` too).
//! Cargo runs `cargo-kiln kiln <args>`; the `kiln` is dropped.

fn main() {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "kiln") {
        args.remove(1);
    }
    tuner::cli::main_with(args, "cargo kiln");
}
