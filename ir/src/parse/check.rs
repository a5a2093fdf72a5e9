//! Function-level checks: which blocks write and read which buffers.
//!
//! They run after the whole body was read, and only when every block parsed
//! (a block whose store did not parse may be the missing writer).

use super::lower::{BufInfo, BufKind};
use super::{Ctx, Sp};

/// What one block reads and writes, in program order.
pub(crate) struct BlockFlow {
    /// Buffers loaded (by name) and where.
    pub reads: Vec<(String, Sp)>,
    /// The buffer stored to.
    pub write: String,
    /// The block has an `init`, which writes before the body reads.
    pub has_init: bool,
}

#[derive(Default)]
pub(crate) struct Flow {
    pub blocks: Vec<BlockFlow>,
    /// Some statement did not parse, so the writes are not all known.
    pub unknown: bool,
}

/// Checks, in order:
/// 1. every output parameter is written by some block;
/// 2. every intermediate buffer that is read is written, by an earlier block
///    (or by the reading block's own `init`).
pub(crate) fn check_flow(ctx: &mut Ctx, bufs: &[BufInfo], flow: &Flow) {
    if flow.unknown {
        return;
    }
    let first_write = |name: &str| flow.blocks.iter().position(|b| b.write == name);
    for b in bufs.iter().filter(|b| b.kind == BufKind::Output) {
        if first_write(&b.name.to_string()).is_none() {
            ctx.err(&b.name, format!("output `{}` is never written", b.name));
        }
    }
    for b in bufs.iter().filter(|b| b.kind == BufKind::Alloc) {
        let name = b.name.to_string();
        let written = first_write(&name);
        let early_read = flow.blocks.iter().enumerate().find_map(|(k, blk)| {
            let ok = written.is_some_and(|w| w < k || (w == k && blk.has_init));
            let read = blk.reads.iter().find(|(r, _)| *r == name);
            read.filter(|_| !ok).map(|(_, sp)| *sp)
        });
        match (early_read, written) {
            (Some(sp), None) => ctx.err(sp, format!("intermediate buffer `{name}` is read but never written")),
            (Some(sp), Some(_)) => {
                ctx.err(sp, format!("intermediate buffer `{name}` is read before any block writes it"))
            }
            (None, _) => {}
        }
    }
}
