//! The `tensor_func!` language: tokens → IR.
//!
//! The same parser serves the proc macro (on the macro's input) and the tuner
//! (on `.rs` files read from disk, through [`find_kernels_in_file`]); it only
//! needs `proc_macro2`, so it runs outside a proc-macro context too.
//!
//! # Example
//!
//! ```text
//! tensor_func! {
//!     /// C = A·B (128×128).
//!     pub fn matmul(a: [f32; 128, 128], b: [f32; 128, 128], c: &mut [f32; 128, 128]) {
//!         for (i, j, k) in grid(128, 128, 128) {
//!             block("C") {
//!                 let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
//!                 init { c[vi, vj] = 0.0; }
//!                 c[vi, vj] = c[vi, vj] + a[vi, vk] * b[vk, vj];
//!             }
//!         }
//!     }
//!     schedule {
//!         b0 = sch.get_block(name="C", func_name="main")
//!     }
//! }
//! ```
//!
//! # Grammar
//!
//! `IDENT`, `INT`, `FLOAT` and `STRING` are Rust tokens; `'x'` is a literal token;
//! `a?`, `a*`, `a+` are optional, repeated and non-empty repeated.
//!
//! ```text
//! kernel    := ATTR* VIS? 'fn' IDENT '(' params? ')' '{' item* '}' schedule?
//!              ATTR: any outer attribute (kept for the emitted fn), or '#' '[' 'fast_math' ']'
//! schedule  := 'schedule' '{' TOKENS '}'          kept verbatim, parsed by the trace parser
//! params    := param (',' param)* ','?
//! param     := IDENT ':' tensor                   an input (read-only)
//!            | IDENT ':' '&' 'mut' tensor         an output
//! tensor    := '[' dtype ';' INT (',' INT)* ','? ']'
//! dtype     := 'f32' | 'f64' | 'i32'
//!
//! item      := alloc | loop | block | ';'         `alloc` only directly in the fn body
//! alloc     := 'let' IDENT '=' 'alloc' '(' tensor ')' ';'
//! loop      := 'for' IDENT 'in' INT '..' INT '{' item+ '}'            the start must be 0
//!            | 'for' IDENT 'in' 'range' '(' (INT ',')? INT ')' '{' item+ '}'   (ditto)
//!            | 'for' pattern 'in' 'grid' '(' INT (',' INT)* ')' '{' item+ '}'
//! pattern   := IDENT | '(' IDENT (',' IDENT)* ','? ')'   as many names as `grid` extents
//! block     := 'block' '(' STRING ')' '{' axis+ init? store '}'   name: [A-Za-z0-9_]+
//! axis      := 'let' pattern '=' 'axis' '::' 'remap' '(' STRING ',' loopvars ')' ';'
//!            | 'let' IDENT '=' 'axis' '::' ('spatial' | 'reduce') '(' INT ',' expr ')' ';'
//! loopvars  := IDENT | '(' IDENT (',' IDENT)* ','? ')'
//! init      := 'init' '{' store '}' ';'?
//! store     := IDENT '[' expr (',' expr)* ','? ']' ('=' | '+=' | '-=' | '*=' | '/=') expr ';'
//!
//! expr      := binary operators, loosest first (as in Rust):
//!              '||'   '&&'   '==' '!=' '<' '<=' '>' '>=' (not chainable)
//!              '+' '-'   '*' '/' '%'   'as' dtype   prefix '-' '!'   postfix '.' METHOD '(' args ')'
//! primary   := INT | FLOAT | 'true' | 'false'      INT/FLOAT may carry an f32, f64 or i32 suffix
//!            | IDENT                               a block axis
//!            | IDENT '[' expr (',' expr)* ']'     a buffer element
//!            | FUNC '(' args ')'                   FUNC: max min select, or a METHOD
//!            | dtype '::' FUNC '(' args ')'          `f32::max(a, b)`: FUNC on that type
//!            | ('f32' | 'f64') '::' ('INFINITY' | 'NEG_INFINITY' | 'MAX' | 'MIN' | 'EPSILON')
//!            | 'i32' '::' ('MAX' | 'MIN')
//!            | '(' expr ')'
//!            | 'if' expr '{' expr '}' 'else' ('{' expr '}' | if-expr)
//! METHOD    := max min exp ln sqrt rsqrt tanh sigmoid abs   (`x.max(y)` is `max(x, y)`)
//! ```
//!
//! # Meaning
//!
//! - Parameters are dense row-major tensors of static shape. `&mut` marks the
//!   outputs; inputs are read-only; there is at least one output. `alloc`
//!   declares an intermediate buffer (`PrimFunc::allocs`, global scope). Every
//!   output must be written by some block, and an intermediate must be written
//!   by an earlier block (or by the reading block's own `init`) before it is read.
//! - `for` loops run from 0 to a positive literal extent; `grid(e0, e1, ..)` is a
//!   perfect nest of such loops, outermost first.
//! - A block declares its iteration axes, each bound to an expression of the
//!   enclosing loop variables: `axis::remap("SSR", (i, j, k))` makes one axis per
//!   loop variable, with the loop's extent, spatial (`S`) or reduce (`R`);
//!   `axis::spatial(extent, expr)` / `axis::reduce(extent, expr)` bind one axis
//!   to an index expression whose values must stay in `0..extent`. The block
//!   body only sees its axes, never the loop variables. Bindings become
//!   `BlockRealize::bindings`; the predicate is `true`.
//! - `init { .. }` (only in blocks with a reduce axis) runs before the first
//!   iteration of the reduction, i.e. when every reduce axis is 0. It must store
//!   to the element the block stores to.
//! - The one store `buf[..] = value` is the block's computation; `buf[..] += v`
//!   means `buf[..] = buf[..] + v` (likewise `-=`, `*=`, `/=`). Reads and writes
//!   are not declared: they are inferred from the loads and the store
//!   (`ir::region`). A reduce axis must not index the stored buffer.
//! - An access is rejected when its index provably leaves the buffer's shape
//!   over the block's iteration domain. Inside `if`/`select` branches the
//!   condition's comparisons of indices refine that domain (so padding written
//!   `if vh >= 1 && vh < 33 { a[vh - 1] } else { 0.0 }` is accepted); where a
//!   condition restricts the indices in a way that cannot be followed (`!=`, `||`
//!   in a then-branch, products of axes), the branch is not checked.
//! - Every name (buffer, loop variable, block axis) must differ from the names in
//!   scope: no shadowing. Loops and axes of different blocks may reuse names; the
//!   IR gives the later ones fresh names (`i_1`), since IR variables are
//!   identified by name. Block names are unique in the function.
//!
//! # Types
//!
//! Buffer elements are `f32`, `f64` or `i32`; axes and index arithmetic have the
//! index type (`i64`); conditions are `bool`. Operands of a binary operator,
//! of `max`/`min` and the branches of `select`/`if` have the same type; an
//! unsuffixed literal takes the type its context asks for (the stored buffer, the
//! other operand), and an integer literal is fine where a float is expected.
//! On indices `/` and `%` are floor division and floor modulo; on elements they
//! are division and remainder (truncating for `i32`). `as f32|f64|i32` converts
//! between numeric types (`vi as f32`); nothing converts back to an index. As in
//! Rust, untyped literals under a cast keep their own type: `(7 / 2) as f32` is 3.
//! The functions `exp`, `ln`, `sqrt`, `rsqrt` (`1/sqrt(x)`), `tanh` and
//! `sigmoid` (`1/(1 + e^−x)`) take a float; `abs` takes any number. Their
//! precision is [`UnOp`](crate::ir::UnOp)'s.
//!
//! # Fast math
//!
//! The generated code computes the interpreter's results: exactly, or for the
//! vector math within one ulp. `#[fast_math]` on the function (consumed by the
//! parser, not emitted; `PrimFunc::fast_math`, printed as the function
//! attribute `kiln.fast_math` and so part of the workload hash) lets the vector
//! code round differently, with the bounds stated in
//! [`codegen::fast_math`](crate::codegen::fast_math): a division by a value
//! shared by the lanes becomes a product with its reciprocal, computed once
//! before the loop, and `exp`, `tanh` and `sigmoid` of `f32` take cheaper
//! approximations. It is an error on a kernel where it allows nothing: one
//! with no float division whose divisor is invariant along some axis of its
//! block (`e[i, j] / s[i]`, `x[i] / 3.0`) and no `exp`, `tanh` or `sigmoid`
//! of `f32`.
//!
//! # Limits
//!
//! Extents (dimensions, loops, axes) are at most `i32::MAX`, a buffer holds at
//! most 2⁴⁰ elements, index expressions stay within ±2⁵², and expressions and
//! loops nest at most 128 deep: beyond these the input is rejected, so that the
//! parser's own arithmetic and recursion stay bounded.
//!
//! # Errors
//!
//! Every error is a [`syn::Error`] spanning the offending tokens. The parser
//! keeps going after an error where it can (the next statement, the next block,
//! the next parameter) and reports all errors of one input together; the
//! function-level checks (an output never written, an intermediate read before
//! it is written) run only when every block parsed. It never panics.

mod block;
mod body;
mod bounds;
mod call;
mod check;
mod dims;
mod discover;
mod expr;
mod fast_math;
mod lower;
mod sig;

use std::fmt;

use proc_macro2::{Punct, Spacing, Span, TokenStream};
use quote::{ToTokens, TokenStreamExt};

use crate::ir::{DataType, PrimFunc};

pub use discover::{files_with_extension, find_kernels_in_file, kernels_in_crate, rust_files, CrateKernels};

/// One parameter of a kernel, as declared.
#[derive(Clone, Debug)]
pub struct ParamSig {
    pub name: syn::Ident,
    pub dtype: DataType,
    /// The shape (a symbolic first dimension at the value parsed at).
    pub shape: Vec<i64>,
    /// The symbolic dimension that is its first dimension, if any.
    pub sym: Option<String>,
    /// Declared `&mut` (written by the kernel).
    pub output: bool,
}

/// The declared signature of a kernel: what the emitted function (or the stub
/// emitted after an error) looks like to its callers.
#[derive(Clone, Debug)]
pub struct KernelSig {
    /// Doc comments and other outer attributes, kept for the emitted function.
    pub attrs: Vec<syn::Attribute>,
    pub vis: syn::Visibility,
    pub name: syn::Ident,
    pub params: Vec<ParamSig>,
}

/// A parsed kernel: its signature, its IR and its hand-written schedule, if any.
#[derive(Clone, Debug)]
pub struct Kernel {
    pub sig: KernelSig,
    /// The IR; its name is the fn name.
    pub func: PrimFunc,
    /// The contents of the `schedule { .. }` braces.
    pub schedule: Option<TokenStream>,
    /// The span of the `schedule { .. }` braces.
    pub schedule_span: Option<Span>,
    /// The tokens it was parsed from (to instantiate its symbolic dimensions
    /// at other values, [`Kernel::instantiate`]).
    pub source: TokenStream,
}

impl Kernel {
    /// The IR at other values of the symbolic dimensions (`(name, value)`;
    /// the others at their first tune value). An error when a value is
    /// outside its dimension's range.
    pub fn instantiate(&self, values: &[(&str, i64)]) -> Result<PrimFunc, String> {
        let at = values.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        body::parse(self.source.clone(), at).map(|k| k.func).map_err(|e| e.to_string())
    }
}

/// A kernel that did not parse: every error found, and the signature when it
/// could be read (so the macro can still emit a stub with it).
#[derive(Clone, Debug)]
pub struct ParseFailure {
    /// All errors, combined (iterate it for each message).
    pub error: syn::Error,
    /// Present when the signature (attributes to parameter list) has no error:
    /// every parameter parsed, with a supported element type, a valid shape and
    /// a distinct name. Errors in the body do not affect it.
    pub sig: Option<KernelSig>,
}

impl fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msgs: Vec<String> = self.error.clone().into_iter().map(|e| e.to_string()).collect();
        f.write_str(&msgs.join("\n"))
    }
}

impl std::error::Error for ParseFailure {}

/// Parses the input of one `tensor_func!` invocation.
// A failure is large (it carries the signature) but made once per kernel.
#[allow(clippy::result_large_err)]
pub fn parse_kernel(tokens: TokenStream) -> Result<Kernel, ParseFailure> {
    body::parse(tokens, Default::default())
}

/// Parses the input of one `tensor_func!` invocation given as source text
/// (what is between the macro's braces).
#[allow(clippy::result_large_err)]
pub fn parse_kernel_str(src: &str) -> Result<Kernel, ParseFailure> {
    match src.parse::<TokenStream>() {
        Ok(tokens) => parse_kernel(tokens),
        Err(e) => Err(ParseFailure { error: syn::Error::new(e.span(), format!("cannot tokenize: {e}")), sig: None }),
    }
}

/// The tokens from `start` to `end`: what an error points at.
///
/// `syn::Error::new_spanned` takes the first and the last token of what it is
/// given, so two dummy tokens carrying the two spans make an error span a range
/// of the input, also on stable compilers where spans cannot be joined.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sp {
    pub start: Span,
    pub end: Span,
}

impl Sp {
    pub fn new(start: Span, end: Span) -> Sp {
        Sp { start, end }
    }

    /// From the start of `self` to the end of `other`.
    pub fn to(self, other: Sp) -> Sp {
        Sp { start: self.start, end: other.end }
    }
}

impl From<Span> for Sp {
    fn from(s: Span) -> Sp {
        Sp { start: s, end: s }
    }
}

impl From<&syn::Ident> for Sp {
    fn from(i: &syn::Ident) -> Sp {
        i.span().into()
    }
}

impl ToTokens for Sp {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let mut a = Punct::new('#', Spacing::Alone);
        a.set_span(self.start);
        let mut b = Punct::new('#', Spacing::Alone);
        b.set_span(self.end);
        tokens.append(a);
        tokens.append(b);
    }
}

/// The errors found so far (serde's `Ctxt` pattern: collect, then combine).
#[derive(Default)]
pub(crate) struct Ctx {
    errors: Vec<syn::Error>,
}

impl Ctx {
    /// Records an error spanning `at`.
    pub fn err(&mut self, at: impl Into<Sp>, msg: impl fmt::Display) {
        self.errors.push(syn::Error::new_spanned(at.into(), msg));
    }

    /// Records an error produced by syn.
    pub fn push(&mut self, e: syn::Error) {
        self.errors.push(e);
    }

    pub fn count(&self) -> usize {
        self.errors.len()
    }

    /// All errors combined into one, in source order where the spans carry
    /// locations, or `None` if there were none.
    pub fn finish(mut self) -> Option<syn::Error> {
        self.errors.sort_by_key(|e| {
            let start = e.span().start();
            (start.line, start.column)
        });
        let mut it = self.errors.into_iter();
        let mut first = it.next()?;
        for e in it {
            first.combine(e);
        }
        Some(first)
    }
}

/// How a type is named in messages.
pub(crate) fn ty_name(t: DataType) -> &'static str {
    match t {
        DataType::Index => "index",
        other => other.rust_name(),
    }
}

/// Limits that keep the parser from overflowing (in index arithmetic) or from
/// recursing too deep, whatever the input.
pub(crate) mod limits {
    /// Largest extent of a dimension, loop or axis.
    pub const MAX_EXTENT: i64 = i32::MAX as i64;
    /// Largest number of elements of a buffer.
    pub const MAX_NUMEL: i64 = 1 << 40;
    /// Largest magnitude an index expression may reach (keeps the analyzer's
    /// arithmetic far from `i64` overflow).
    pub const MAX_INDEX_MAGNITUDE: i128 = 1 << 52;
    /// Deepest nesting of expressions and of loops.
    pub const MAX_DEPTH: u32 = 128;
}

#[cfg(test)]
mod tests {
    use super::*;

    const MATMUL: &str = r#"
        /// C = A·B.
        #[allow(clippy::needless_range_loop)]
        pub fn mm(a: [f32; 4, 4], b: [f32; 4, 4], c: &mut [f32; 4, 4]) {
            for (i, j, k) in grid(4, 4, 4) {
                block("C") {
                    let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                    init { c[vi, vj] = 0.0; }
                    c[vi, vj] += a[vi, vk] * b[vk, vj];
                }
            }
        }
        schedule {
            b0 = sch.get_block(name="C", func_name="main")
            l1, l2, l3 = sch.get_loops(block=b0)
        }
    "#;

    #[test]
    fn schedule_is_kept_verbatim() {
        let k = parse_kernel_str(MATMUL).unwrap();
        let sched = k.schedule.unwrap().to_string();
        assert!(sched.starts_with("b0 = sch . get_block (name = \"C\" , func_name = \"main\")"), "{sched}");
        assert!(sched.ends_with("sch . get_loops (block = b0)"), "{sched}");
        let span = k.schedule_span.unwrap();
        assert_eq!((span.start().line, span.end().line), (13, 16));
        assert!(parse_kernel_str(&MATMUL[..MATMUL.find("schedule").unwrap()]).unwrap().schedule.is_none());
    }

    #[test]
    fn signature_keeps_attributes_and_visibility() {
        let k = parse_kernel_str(MATMUL).unwrap();
        assert_eq!(k.sig.attrs.len(), 2);
        assert!(matches!(k.sig.vis, syn::Visibility::Public(_)));
        let names: Vec<String> = k.sig.params.iter().map(|p| p.name.to_string()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(k.sig.params[2].shape, vec![4, 4]);
        assert!(k.sig.params[2].output && !k.sig.params[0].output);
        assert_eq!(k.func.name, "mm");
        assert!(k.func.is_input("a") && !k.func.is_input("c"));
    }

    #[test]
    fn tokens_from_quote_parse_too() {
        let tokens = quote::quote! {
            fn scale(x: [f64; 3], y: &mut [f64; 3]) {
                for i in range(3) {
                    block("Y") {
                        let vi = axis::remap("S", i);
                        y[vi] = x[vi] * 0.5 + (vi as f64);
                    }
                }
            }
        };
        let k = parse_kernel(tokens).unwrap();
        assert_eq!(k.func.params[1].buffer.dtype, DataType::F64);
    }

    #[test]
    fn failure_displays_one_message_per_line() {
        let f = parse_kernel_str("fn f(c: &mut [f32; 4]) { for i in 1..4 { block(\"B\") { } } }").unwrap_err();
        assert_eq!(
            f.to_string(),
            "loop ranges must start at 0\nblock \"B\" has no axes: declare them with `let vi = axis::spatial(extent, i);` or `axis::remap(..)`\nblock \"B\" has no store `buf[..] = value;`"
        );
        let lex = parse_kernel_str("fn f(c: &mut [f32; 4]) { \"unterminated }").unwrap_err();
        assert!(lex.to_string().starts_with("cannot tokenize"), "{lex}");
    }
}
