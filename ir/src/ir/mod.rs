//! The intermediate representation: types, expressions, statements, blocks,
//! functions, index arithmetic, access regions and the printer.

pub mod arith;
pub mod dtype;
pub mod expr;
pub mod flops;
pub mod nest;
pub mod printer;
pub mod region;
pub mod relax;
pub mod stmt;
pub mod verify;

pub use arith::{simplify, Analyzer, Sum};
pub use dtype::DataType;
pub use expr::{BinOp, Const, Expr, Load, UnOp, Var};
pub use flops::flops;
pub use printer::{expr_to_string, func_to_string};
pub use region::{block_read_buffers, block_reads, block_writes, Region};
pub use relax::{Interval, Relax};
pub use stmt::{
    fresh_in, AnnValue, Annotations, Block, BlockRealize, Buffer, For, ForKind, IterKind, IterVar, Param, ParamKind,
    PrimFunc, Scope, Stmt, Store, SymDim,
};
