//! Traces: the recorded list of schedule instructions.
//!
//! Every primitive call on a [`Schedule`](crate::schedule::Schedule) appends an
//! [`Instruction`]: its kind, its named arguments (random-variable handles or
//! literal attributes), the handles it produced, and — for sampling
//! instructions — the decision taken. A trace prints in the chapter's text form
//! (`text.rs`), parses back from it, has a versioned JSON form (`json.rs`) and
//! replays onto a fresh schedule (`Schedule::replay`).

pub mod index_expr;
mod json;
mod text;

pub use json::{TraceJson, TRACE_FORMAT};
pub use text::{parse_trace, parse_trace_str, TraceParseError};

use serde::{Deserialize, Serialize};

/// What a random variable (a handle) denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RvKind {
    Block,
    Loop,
    Expr,
}

impl RvKind {
    /// The prefix of the handle's printed name: `b0`, `l1`, `v4`.
    pub fn prefix(self) -> char {
        match self {
            RvKind::Block => 'b',
            RvKind::Loop => 'l',
            RvKind::Expr => 'v',
        }
    }

    pub fn from_prefix(c: char) -> Option<RvKind> {
        match c {
            'b' => Some(RvKind::Block),
            'l' => Some(RvKind::Loop),
            'v' => Some(RvKind::Expr),
            _ => None,
        }
    }
}

/// A random variable: its number in the trace and what it denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rv {
    pub id: u32,
    pub kind: RvKind,
}

impl std::fmt::Display for Rv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.kind.prefix(), self.id)
    }
}

impl std::hash::Hash for RvKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (*self as u8).hash(state)
    }
}

/// An index map `lambda i, j: (i // 16, j, i % 16)` (layout transformation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexMapArg {
    pub params: Vec<String>,
    /// The result expressions, in the trace text syntax.
    pub results: Vec<String>,
}

/// An instruction argument.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arg {
    Rv(Rv),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    None,
    List(Vec<Arg>),
    /// `("read", 0)`: which buffer of a block.
    Tuple(Vec<Arg>),
    IndexMap(IndexMapArg),
}

impl Arg {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Arg::Int(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Arg::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Arg::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_rv(&self) -> Option<Rv> {
        match self {
            Arg::Rv(r) => Some(*r),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Arg]> {
        match self {
            Arg::List(v) | Arg::Tuple(v) => Some(v),
            _ => None,
        }
    }
}

/// The decision of a sampling instruction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Decision {
    /// `sample_categorical`, `sample_compute_location`: an index.
    Int(i64),
    /// `sample_perfect_tile`: the tile sizes.
    Ints(Vec<i64>),
}

/// Every instruction kind, with its printed name and what it produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstKind {
    GetBlock,
    GetLoops,
    GetProducers,
    GetConsumers,
    Split,
    Fuse,
    Reorder,
    Parallel,
    Vectorize,
    Unroll,
    Annotate,
    Unannotate,
    DecomposeReduction,
    RFactor,
    CacheRead,
    CacheWrite,
    SetScope,
    TransformLayout,
    ComputeAt,
    ReverseComputeAt,
    ComputeInline,
    ReverseComputeInline,
    SamplePerfectTile,
    SampleCategorical,
    SampleComputeLocation,
}

impl InstKind {
    pub const ALL: [InstKind; 25] = [
        InstKind::GetBlock,
        InstKind::GetLoops,
        InstKind::GetProducers,
        InstKind::GetConsumers,
        InstKind::Split,
        InstKind::Fuse,
        InstKind::Reorder,
        InstKind::Parallel,
        InstKind::Vectorize,
        InstKind::Unroll,
        InstKind::Annotate,
        InstKind::Unannotate,
        InstKind::DecomposeReduction,
        InstKind::RFactor,
        InstKind::CacheRead,
        InstKind::CacheWrite,
        InstKind::SetScope,
        InstKind::TransformLayout,
        InstKind::ComputeAt,
        InstKind::ReverseComputeAt,
        InstKind::ComputeInline,
        InstKind::ReverseComputeInline,
        InstKind::SamplePerfectTile,
        InstKind::SampleCategorical,
        InstKind::SampleComputeLocation,
    ];

    /// The method name in the text form (`sch.split(...)`).
    pub fn name(self) -> &'static str {
        match self {
            InstKind::GetBlock => "get_block",
            InstKind::GetLoops => "get_loops",
            InstKind::GetProducers => "get_producers",
            InstKind::GetConsumers => "get_consumers",
            InstKind::Split => "split",
            InstKind::Fuse => "fuse",
            InstKind::Reorder => "reorder",
            InstKind::Parallel => "parallel",
            InstKind::Vectorize => "vectorize",
            InstKind::Unroll => "unroll",
            InstKind::Annotate => "annotate",
            InstKind::Unannotate => "unannotate",
            InstKind::DecomposeReduction => "decompose_reduction",
            InstKind::RFactor => "rfactor",
            InstKind::CacheRead => "cache_read",
            InstKind::CacheWrite => "cache_write",
            InstKind::SetScope => "set_scope",
            InstKind::TransformLayout => "transform_layout",
            InstKind::ComputeAt => "compute_at",
            InstKind::ReverseComputeAt => "reverse_compute_at",
            InstKind::ComputeInline => "compute_inline",
            InstKind::ReverseComputeInline => "reverse_compute_inline",
            InstKind::SamplePerfectTile => "sample_perfect_tile",
            InstKind::SampleCategorical => "sample_categorical",
            InstKind::SampleComputeLocation => "sample_compute_location",
        }
    }

    pub fn from_name(name: &str) -> Option<InstKind> {
        InstKind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The kind of the handles the instruction produces.
    pub fn output_kind(self) -> RvKind {
        match self {
            InstKind::GetBlock
            | InstKind::GetProducers
            | InstKind::GetConsumers
            | InstKind::DecomposeReduction
            | InstKind::RFactor
            | InstKind::CacheRead
            | InstKind::CacheWrite => RvKind::Block,
            InstKind::SamplePerfectTile | InstKind::SampleCategorical => RvKind::Expr,
            _ => RvKind::Loop,
        }
    }

    /// Whether the instruction samples (and so carries a decision).
    pub fn is_sampling(self) -> bool {
        matches!(self, InstKind::SamplePerfectTile | InstKind::SampleCategorical | InstKind::SampleComputeLocation)
    }

    /// Whether the arguments print positionally (`sch.reorder(l1, l2)`).
    pub fn positional(self) -> bool {
        matches!(self, InstKind::Reorder | InstKind::Fuse)
    }
}

/// One recorded schedule step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instruction {
    pub kind: InstKind,
    /// Named arguments in printing order; positional ones have an empty name.
    pub args: Vec<(String, Arg)>,
    pub outputs: Vec<Rv>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

impl Instruction {
    pub fn new(kind: InstKind) -> Instruction {
        Instruction { kind, args: vec![], outputs: vec![], decision: None }
    }

    /// Adds a named argument.
    pub fn arg(mut self, name: &str, value: Arg) -> Instruction {
        self.args.push((name.to_string(), value));
        self
    }

    /// Looks up a named argument.
    pub fn get(&self, name: &str) -> Option<&Arg> {
        self.args.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// The positional arguments.
    pub fn positional(&self) -> impl Iterator<Item = &Arg> {
        self.args.iter().filter(|(n, _)| n.is_empty()).map(|(_, a)| a)
    }

    /// Every handle the instruction reads.
    pub fn input_rvs(&self) -> Vec<Rv> {
        fn collect(a: &Arg, out: &mut Vec<Rv>) {
            match a {
                Arg::Rv(r) => out.push(*r),
                Arg::List(v) | Arg::Tuple(v) => v.iter().for_each(|x| collect(x, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for (_, a) in &self.args {
            collect(a, &mut out);
        }
        out
    }
}

/// A recorded schedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub insts: Vec<Instruction>,
}

impl Trace {
    /// The sampling instructions' indices (what mutators change).
    pub fn decision_sites(&self) -> Vec<usize> {
        self.insts.iter().enumerate().filter(|(_, i)| i.kind.is_sampling()).map(|(n, _)| n).collect()
    }

    /// A copy with the decision of instruction `index` replaced.
    pub fn with_decision(&self, index: usize, decision: Option<Decision>) -> Trace {
        let mut t = self.clone();
        t.insts[index].decision = decision;
        t
    }

    /// A copy without any decision (replaying it samples afresh).
    pub fn without_decisions(&self) -> Trace {
        let mut t = self.clone();
        for i in &mut t.insts {
            i.decision = None;
        }
        t
    }

    /// The decisions in order, for de-duplication and display.
    pub fn decisions(&self) -> Vec<Option<&Decision>> {
        self.insts.iter().filter(|i| i.kind.is_sampling()).map(|i| i.decision.as_ref()).collect()
    }
}

impl std::fmt::Display for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&text::print_trace(self))
    }
}

/// An argument as the trace text writes it (`l3`, `[None, 4]`, `"C"`).
impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        text::print_arg(&mut out, self);
        f.write_str(&out)
    }
}

/// One instruction's text, for error messages.
pub fn print_inst_for_error(inst: &Instruction) -> String {
    text::print_inst(inst)
}
