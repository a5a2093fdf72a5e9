//! The tuner's error type: one enum for every public function of the library
//! (Cranelift's `CodegenError`, one enum plus a `Result` alias).
//!
//! Each message is complete on its own (it names the file, the kernel or the
//! step, and says what the cause said), as kiln-ir's errors are; `source()`
//! also gives the cause, for callers that walk the chain. A candidate that
//! fails to build, crashes, hangs or computes a wrong result is not an error:
//! it is an [`Outcome`](crate::runner::Outcome) of the search, recorded and
//! reported.

use std::path::{Path, PathBuf};

use kiln_ir::interp::InterpError;
use kiln_ir::program::{NoTrace, ProgramError};
use kiln_ir::schedule::ReplayError;

/// Why the tuner could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // Workspace and discovery.
    /// `cargo metadata` failed or said something unexpected.
    #[error("cannot read the workspace: {message}")]
    Workspace { message: String },
    /// No `tensor_func!` kernel is named so.
    #[error("no kernel named `{name}` in the workspace (there are: {})", known.join(", "))]
    NoSuchKernel { name: String, known: Vec<String> },
    /// The workspace has no kernels at all.
    #[error("no tensor_func! kernels in the workspace at {}", root.display())]
    NoKernels { root: PathBuf },

    // Programs.
    /// A kernel's program cannot be decided (trace file, `schedule { }` section).
    #[error(transparent)]
    Program(#[from] ProgramError),
    /// A trace does not replay on its kernel.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The kernel's trace file has no usable entry for the target (why).
    #[error("{}", no_trace_message(path, why))]
    NoTrace { path: PathBuf, why: NoTrace },
    /// Tuning found no correct program.
    #[error("no candidate was correct")]
    NoCorrectCandidate,

    // Files and the database.
    /// A file or directory operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    /// A database line cannot be written.
    #[error("the database in {}: {message}", dir.display())]
    Database { dir: PathBuf, message: String },
    /// Another live process holds the lock of the work directory.
    #[error(
        "another tuner (PID {pid}) is using the work directory {}; wait for it to finish, \
         or pass a different --work-dir (if PID {pid} is not a tuner, delete {})",
        dir.display(),
        lock.display()
    )]
    Locked { pid: u32, dir: PathBuf, lock: PathBuf },
    /// The lock kept changing hands.
    #[error("cannot take the lock {}", path.display())]
    Lock { path: PathBuf },

    // Building and running.
    /// A program (cargo, rustc) cannot be started.
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    /// kiln's runtime (the harness candidates link against) does not build.
    #[error("building kiln's runtime failed:\n{0}")]
    Toolchain(String),
    /// The reference interpreter failed on a kernel (no data to check against).
    #[error("the interpreter failed on `{kernel}`: {source}")]
    Reference { kernel: String, source: InterpError },

    // Targets and options.
    /// An ISA name that is not known.
    #[error("unknown ISA `{name}` ({choices})")]
    UnknownIsa { name: String, choices: &'static str },
    /// None of the requested ISAs can be measured here.
    #[error("{0}")]
    UnsupportedIsa(String),
    /// A search strategy name that is not known.
    #[error("unknown strategy `{0}`")]
    UnknownStrategy(String),

    // Outputs.
    /// The cost model cannot be fitted.
    #[error("the cost model: {0}")]
    CostModel(String),
    /// A tuning curve cannot be drawn.
    #[error("cannot draw {}: {message}", path.display())]
    Plot { path: PathBuf, message: String },
}

/// The tuner's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// `map_err(Error::io("create", dir))`: an I/O error on `path`.
    pub fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::Io { action, path, source }
    }

    /// `map_err(Error::spawn("cargo"))`: a program that cannot be started.
    pub fn spawn(program: &str) -> impl FnOnce(std::io::Error) -> Error {
        let program = program.to_string();
        move |source| Error::Spawn { program, source }
    }
}

fn no_trace_message(path: &Path, why: &NoTrace) -> String {
    match why {
        // Its message names the file already.
        NoTrace::NoFile { .. } => why.to_string(),
        _ => format!("{}: {why}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn messages_name_the_file_and_say_the_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = Error::io("create", Path::new("/w/data"))(io);
        assert_eq!(e.to_string(), "cannot create /w/data: denied");
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("denied"));
        let e = Error::NoTrace { path: "k.json".into(), why: NoTrace::NoFile { path: "k.json".into() } };
        assert_eq!(e.to_string(), "no trace file k.json");
        let e = Error::NoTrace { path: "k.json".into(), why: NoTrace::NoEntry { key: "x86_64-avx2".into() } };
        assert_eq!(e.to_string(), "k.json: the trace file has no x86_64-avx2 entry");
    }
}
