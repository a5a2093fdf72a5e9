//! Rebuilds this crate when a trace in `traces/` is added, changed or
//! removed. `tensor_func!` reads `traces/<kernel>.json` while expanding, and
//! cargo only tracks the files it includes (`include_bytes!` of an existing
//! trace): without this, a trace added for a kernel that had none would not
//! be picked up until something else changed.

fn main() {
    if std::path::Path::new("traces").is_dir() {
        // A directory: cargo compares the newest mtime of everything under it
        // (the directory's own mtime changes when a file is added or removed).
        println!("cargo:rerun-if-changed=traces");
    } else {
        // No traces yet: watch the crate's folder, whose mtime changes when
        // `traces/` is created.
        println!("cargo:rerun-if-changed=.");
    }
}
