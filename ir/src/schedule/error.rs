//! `ScheduleError`: a schedule step the IR does not allow.
//!
//! Each primitive family defines its own error enum next to its `check_*`
//! functions (`primitive/split.rs` has `SplitError`, ...). They all convert into
//! `ScheduleError`, whose `Display` is the detailed message naming the blocks
//! and loops involved. A failed primitive never changes the schedule.

use std::fmt;

/// Why a schedule step was rejected.
#[derive(Clone, Debug, PartialEq)]
pub enum ScheduleError {
    /// No block has this name.
    UnknownBlock { name: String },
    /// A handle refers to a loop or block that a previous step removed.
    StaleHandle { handle: String, what: String },
    /// A handle of the wrong kind, or from another schedule.
    BadHandle { handle: String, expected: &'static str },
    /// A sampling decision that does not fit (a stale trace): `what` says why.
    BadDecision { instruction: String, what: String },
    /// A trace instruction that is malformed (a missing or mistyped argument,
    /// an unknown handle).
    BadInstruction { instruction: String, what: String },
    /// A precondition of a primitive failed: `kind` is the family error's
    /// variant name (`"NotDivisible"`), `message` the detailed text.
    Primitive { primitive: &'static str, kind: &'static str, message: String },
}

impl ScheduleError {
    /// A failed precondition of `primitive` with a detailed message.
    pub fn primitive(primitive: &'static str, kind: &'static str, message: impl Into<String>) -> ScheduleError {
        ScheduleError::Primitive { primitive, kind, message: message.into() }
    }

    /// The failed check's variant name (`"NotDivisible"`), or the
    /// `ScheduleError` variant name for the generic errors.
    pub fn kind(&self) -> &'static str {
        match self {
            ScheduleError::UnknownBlock { .. } => "UnknownBlock",
            ScheduleError::StaleHandle { .. } => "StaleHandle",
            ScheduleError::BadHandle { .. } => "BadHandle",
            ScheduleError::BadDecision { .. } => "BadDecision",
            ScheduleError::BadInstruction { .. } => "BadInstruction",
            ScheduleError::Primitive { kind, .. } => kind,
        }
    }

    /// The primitive that failed, if any.
    pub fn primitive_name(&self) -> Option<&'static str> {
        match self {
            ScheduleError::Primitive { primitive, .. } => Some(primitive),
            _ => None,
        }
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::UnknownBlock { name } => write!(f, "no block is named \"{name}\""),
            ScheduleError::StaleHandle { handle, what } => {
                write!(f, "{handle} refers to {what}, which an earlier step removed")
            }
            ScheduleError::BadHandle { handle, expected } => write!(f, "{handle} is not a {expected} handle"),
            ScheduleError::BadDecision { instruction, what } => {
                write!(f, "the decision of `{instruction}` does not fit: {what}")
            }
            ScheduleError::BadInstruction { instruction, what } => write!(f, "`{instruction}`: {what}"),
            ScheduleError::Primitive { primitive, message, .. } => write!(f, "{primitive}: {message}"),
        }
    }
}

impl std::error::Error for ScheduleError {}

/// Why a trace did not replay: the step that failed (numbered from 1, as
/// printed everywhere), the instruction as its text form, and the error.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayError {
    /// The failing instruction's number, from 1.
    pub step: usize,
    /// The instruction, in the trace's text form.
    pub instruction: String,
    pub error: Box<ScheduleError>,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} (`{}`) fails: {}", self.step, self.instruction, self.error)
    }
}

impl std::error::Error for ReplayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

/// Declares a primitive family's error enum: each variant has a message
/// template, and the enum converts into `ScheduleError::Primitive`.
///
/// ```ignore
/// family_error! { SplitError, "split",
///     NotALoop { loop_: String } => "`{loop_}` is not a loop",
/// }
/// ```
macro_rules! family_error {
    ($name:ident, $prim:literal, $( $(#[$doc:meta])* $variant:ident { $($field:ident : $ty:ty),* $(,)? } => $fmt:literal ),* $(,)?) => {
        #[derive(Clone, Debug, PartialEq)]
        pub enum $name {
            $( $(#[$doc])* $variant { $($field: $ty),* } ),*
        }

        impl std::fmt::Display for $name {
            #[allow(unused_variables)]
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $( $name::$variant { $($field),* } => write!(f, $fmt) ),*
                }
            }
        }

        impl $name {
            /// The variant name.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( $name::$variant { .. } => stringify!($variant) ),*
                }
            }
        }

        impl From<$name> for $crate::schedule::ScheduleError {
            fn from(e: $name) -> $crate::schedule::ScheduleError {
                $crate::schedule::ScheduleError::primitive($prim, e.kind(), e.to_string())
            }
        }
    };
}

pub(crate) use family_error;

/// Names for a message, each between two `quote`s, separated by commas:
/// `"C", "C_rf"` for blocks, `` `a`, `b` `` for buffers.
pub(crate) fn name_list(names: &[impl fmt::Display], quote: char) -> String {
    names.iter().map(|n| format!("{quote}{n}{quote}")).collect::<Vec<_>>().join(", ")
}
