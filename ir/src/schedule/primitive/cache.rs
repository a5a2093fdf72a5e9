//! `cache_read`, `cache_write`, `set_scope`: stage a buffer through a copy in
//! a given storage scope, or change the scope of an intermediate buffer.
//!
//! ```text
//! for i, j, k in T.grid(..):             b1 = sch.cache_read(block=b0, read_buffer_index=1, storage_scope="global")
//!     C: c += a[vi, vk] * b[vk, vj] ==>  for ax0, ax1 in T.grid(..):
//!                                            b_global: b_global[v0, v1] = b[v0, v1]
//!                                        for i, j, k in T.grid(..):
//!                                            C: c += a[vi, vk] * b_global[vk, vj]
//!
//! for i, j, k in T.grid(..):             b1 = sch.cache_write(block=b0, write_buffer_index=0, storage_scope="local")
//!     C: c += a * b                 ==>  for i, j, k in T.grid(..):
//!                                            C: c_local += a * b
//!                                        for ax0, ax1 in T.grid(..):
//!                                            c_local: c[v0, v1] = c_local[v0, v1]
//! ```
//! The cache buffer `<buffer>_<scope>` has the buffer's shape and type; the
//! copy block has the same name and copies the whole buffer. Both copies are
//! placed between top-level statements: `cache_read`'s right after the
//! buffer's writer (or, for a buffer nobody writes, right before the first
//! statement reading it) and every reader is redirected to the cache (TVM's
//! default of all consumers); `cache_write`'s right after the statement
//! holding the block, so later readers keep reading the buffer. Moving the
//! write-back into the block's loops is `reverse_compute_at`'s job.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{BufferSide, RvMap};
use crate::ir::{
    block_read_buffers, block_reads, block_writes, fresh_in, Block, BlockRealize, Buffer, Expr, For, IterKind, IterVar,
    Load, PrimFunc, Region, Scope, Stmt, Store, Var,
};
use crate::schedule::analysis::{
    insert_top_level, loop_var_names, normalize, rewrite_block_accesses, top_level_position, writers,
};
use crate::schedule::error::{family_error, name_list};
use crate::schedule::{BlockRV, Schedule, ScheduleError};
use crate::trace::{Arg, InstKind, Instruction, Rv};

family_error! { CacheReadError, "cache_read",
    /// `read_buffer_index` does not name one of the block's read buffers.
    IndexOutOfRange { block: String, index: usize, count: usize } =>
        "block \"{block}\" reads {count} buffer(s), so read_buffer_index {index} is out of range",
    /// The storage scope is neither "global" nor "local".
    UnknownScope { scope: String } => "storage scope \"{scope}\" is not supported (use \"global\" or \"local\")",
    /// Several blocks write the buffer.
    NotSingleWriter { buffer: String, writers: String } =>
        "buffer `{buffer}` is written by several blocks ({writers}); cache_read needs at most one writer",
    /// A reader shares a top-level statement with the writer, or comes before it.
    ReaderNotAfterWriter { buffer: String, reader: String, writer: String } =>
        "block \"{reader}\" reads `{buffer}` before its writer \"{writer}\" or inside the same top-level loop nest, so no copy placed between top-level statements can serve it",
}

family_error! { CacheWriteError, "cache_write",
    /// `write_buffer_index` does not name the block's write buffer.
    IndexOutOfRange { block: String, index: usize, count: usize } =>
        "block \"{block}\" writes {count} buffer(s), so write_buffer_index {index} is out of range",
    /// The storage scope is neither "global" nor "local".
    UnknownScope { scope: String } => "storage scope \"{scope}\" is not supported (use \"global\" or \"local\")",
    /// Several blocks write the buffer.
    NotSingleWriter { buffer: String, writers: String } =>
        "buffer `{buffer}` is written by several blocks ({writers}); cache_write needs the block to be its only writer",
    /// The block reads the buffer other than as a reduction update after its init.
    ReadsOwnOutput { block: String, buffer: String } =>
        "block \"{block}\" reads `{buffer}` other than as the update of a reduction with an init, so it would read the cache before anything is written to it",
    /// Another block reads the buffer inside the same top-level statement.
    ReaderInSameNest { buffer: String, block: String, reader: String } =>
        "block \"{reader}\" reads `{buffer}` inside the same top-level loop nest as \"{block}\", so it would run before the write-back",
}

family_error! { SetScopeError, "set_scope",
    /// `buffer_index` does not name the block's write buffer.
    IndexOutOfRange { block: String, index: usize, count: usize } =>
        "block \"{block}\" writes {count} buffer(s), so buffer_index {index} is out of range",
    /// The storage scope is neither "global" nor "local".
    UnknownScope { scope: String } => "storage scope \"{scope}\" is not supported (use \"global\" or \"local\")",
    /// The buffer is a function parameter.
    ParamBuffer { block: String, buffer: String } =>
        "buffer `{buffer}` written by block \"{block}\" is a parameter of the function; only intermediate buffers can change scope",
}

/// The scope a storage-scope string names.
pub fn parse_scope(scope: &str) -> Option<Scope> {
    match scope {
        "global" => Some(Scope::Global),
        "local" => Some(Scope::Local),
        _ => None,
    }
}

/// The buffer of `regions[index]` (a block's reads or writes), or the number
/// of regions when `index` is out of range.
fn nth_buffer(regions: &[Region], index: usize) -> Result<String, usize> {
    regions.get(index).map(|r| r.buffer.to_string()).ok_or(regions.len())
}

/// Where `cache_read` copies a buffer: its name and the top-level position of the copy.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheReadPlan {
    pub buffer: String,
    pub scope: Scope,
    /// The blocks whose loads are redirected to the cache.
    pub readers: Vec<String>,
    /// The index among the top-level statements where the copy goes.
    pub position: usize,
}

/// Checks `cache_read(block, index, scope)`.
///
/// Conditions: 1. `index` names one of the block's read buffers (the order of
/// `T.reads`); 2. the scope is "global" or "local"; 3. at most one block
/// writes the buffer; 4. every block reading it lies in a top-level statement
/// after the writer's (a block that both writes and reads it fails here).
pub fn check_cache_read(
    func: &PrimFunc,
    block: &str,
    index: usize,
    scope: &str,
) -> Result<CacheReadPlan, CacheReadError> {
    let br = func.block(block).expect("live block");
    let buffer = nth_buffer(&block_reads(&br.block), index).map_err(|count| CacheReadError::IndexOutOfRange {
        block: block.into(),
        index,
        count,
    })?;
    let scope = parse_scope(scope).ok_or_else(|| CacheReadError::UnknownScope { scope: scope.into() })?;
    let ws = writers(func, &buffer);
    if ws.len() > 1 {
        return Err(CacheReadError::NotSingleWriter { buffer, writers: name_list(&ws, '"') });
    }
    let readers: Vec<String> = func
        .blocks()
        .into_iter()
        .filter(|b| block_reads(&b.block).iter().any(|r| *r.buffer == *buffer))
        .map(|b| b.block.name.clone())
        .collect();
    let reader_pos: Vec<usize> = readers.iter().map(|r| top_level_position(func, r).unwrap()).collect();
    let position = match ws.first() {
        Some(w) => {
            let wp = top_level_position(func, w).unwrap();
            if let Some(k) = reader_pos.iter().position(|p| *p <= wp) {
                return Err(CacheReadError::ReaderNotAfterWriter {
                    buffer,
                    reader: readers[k].clone(),
                    writer: w.clone(),
                });
            }
            wp + 1
        }
        None => *reader_pos.iter().min().expect("the block itself reads the buffer"),
    };
    Ok(CacheReadPlan { buffer, scope, readers, position })
}

/// Checks `cache_write(block, index, scope)`; returns the buffer and scope.
///
/// Conditions: 1. `index` is 0 (a block writes one buffer); 2. the scope is
/// "global" or "local"; 3. the block is the buffer's only writer; 4. the block
/// reads the buffer only as the update of a reduction with an init; 5. no
/// other block in the block's top-level statement reads the buffer.
pub fn check_cache_write(
    func: &PrimFunc,
    block: &str,
    index: usize,
    scope: &str,
) -> Result<(String, Scope), CacheWriteError> {
    let br = func.block(block).expect("live block");
    let buffer = nth_buffer(&block_writes(&br.block), index).map_err(|count| CacheWriteError::IndexOutOfRange {
        block: block.into(),
        index,
        count,
    })?;
    let scope = parse_scope(scope).ok_or_else(|| CacheWriteError::UnknownScope { scope: scope.into() })?;
    let all = writers(func, &buffer);
    if all.len() > 1 {
        return Err(CacheWriteError::NotSingleWriter { buffer, writers: name_list(&all, '"') });
    }
    if block_reads(&br.block).iter().any(|r| *r.buffer == *buffer) {
        return Err(CacheWriteError::ReadsOwnOutput { block: block.into(), buffer });
    }
    let pos = top_level_position(func, block).unwrap();
    let nest = crate::schedule::analysis::top_level_stmts(func)[pos];
    for (other, _) in crate::schedule::analysis::blocks_with_loops(nest) {
        if other.block.name != block && block_read_buffers(&other.block).iter().any(|b| **b == *buffer) {
            return Err(CacheWriteError::ReaderInSameNest {
                buffer,
                block: block.into(),
                reader: other.block.name.clone(),
            });
        }
    }
    Ok((buffer, scope))
}

/// Checks `set_scope(block, index, scope)`; returns the buffer and scope.
///
/// Conditions: 1. `index` is 0 (a block writes one buffer); 2. the scope is
/// "global" or "local"; 3. the buffer is an intermediate (allocated) buffer,
/// not a parameter.
pub fn check_set_scope(
    func: &PrimFunc,
    block: &str,
    index: usize,
    scope: &str,
) -> Result<(String, Scope), SetScopeError> {
    let br = func.block(block).expect("live block");
    let buffer = nth_buffer(&block_writes(&br.block), index).map_err(|count| SetScopeError::IndexOutOfRange {
        block: block.into(),
        index,
        count,
    })?;
    let scope = parse_scope(scope).ok_or_else(|| SetScopeError::UnknownScope { scope: scope.into() })?;
    if func.param(&buffer).is_some() {
        return Err(SetScopeError::ParamBuffer { block: block.into(), buffer });
    }
    Ok((buffer, scope))
}

/// The copy `dst[v0, v1, ..] = src[v0, v1, ..]` over the whole shape: block
/// `name` under loops `ax0, ax1, ..` (fresh names).
fn copy_stage(func: &PrimFunc, name: &str, src: &str, dst: &str, dtype: crate::ir::DataType, shape: &[i64]) -> Stmt {
    let mut names = func.names();
    let loop_names = loop_var_names(func);
    let mut iter_names = BTreeSet::new();
    let mut loops = Vec::new();
    let mut iters = Vec::new();
    for (d, extent) in shape.iter().enumerate() {
        let l = fresh_in(&names, &format!("ax{d}"));
        names.insert(l.clone());
        loops.push((Var::new(&l), *extent));
        let v = fresh_in(&loop_names.union(&iter_names).cloned().collect(), &format!("v{d}"));
        iter_names.insert(v.clone());
        iters.push(IterVar { var: Var::new(&v), extent: *extent, kind: IterKind::Spatial });
    }
    let idx: Vec<Expr> = iters.iter().map(|iv| Expr::var(&iv.var)).collect();
    let block = Block {
        name: name.to_string(),
        iter_vars: iters,
        init: None,
        body: Store {
            buffer: Arc::from(dst),
            indices: idx.clone(),
            value: Expr::Load(Load { buffer: Arc::from(src), dtype, indices: idx }),
        },
        annotations: Default::default(),
    };
    let realize =
        BlockRealize { bindings: loops.iter().map(|(v, _)| Expr::var(v)).collect(), predicate: Expr::true_(), block };
    let mut stmt = Stmt::Block(Box::new(realize));
    for (v, extent) in loops.into_iter().rev() {
        stmt = Stmt::For(Box::new(For::new(v, extent, stmt)));
    }
    stmt
}

/// Adds the cache `<buffer>_<scope>` of `buffer`, makes the blocks
/// `redirect` selects access the cache instead, and inserts the copy block
/// (named as the cache) among the top-level statements at `position`: into
/// the cache for a read cache, back into `buffer` for a write cache. Returns
/// the new function and the copy block's name.
fn add_cache(
    func: &PrimFunc,
    buffer: &str,
    side: BufferSide,
    scope: Scope,
    position: usize,
    redirect: impl Fn(&str) -> bool,
) -> (PrimFunc, String) {
    let buf = func.buffer(buffer).expect("live buffer").clone();
    let cache = func.fresh_name(&format!("{}_{}", buf.name, scope.name()));
    let (src, dst) = match side {
        BufferSide::Read => (&*buf.name, cache.as_str()),
        BufferSide::Write => (cache.as_str(), &*buf.name),
    };
    let stage = copy_stage(func, &cache, src, dst, buf.dtype, &buf.shape);
    let cache_arc: Arc<str> = Arc::from(cache.as_str());
    let body = func.body.clone().map_blocks(&mut |mut br| {
        if redirect(&br.block.name) {
            br.block = rewrite_block_accesses(&br.block, &mut |b, idx| {
                (*b == *buf.name).then(|| (cache_arc.clone(), idx.to_vec()))
            });
        }
        br
    });
    let mut allocs = func.allocs.clone();
    allocs.push(Buffer { name: cache_arc.clone(), scope, ..buf.clone() });
    let out = PrimFunc { body, allocs, ..func.clone() };
    (normalize(insert_top_level(out, position, stage)), cache)
}

/// Adds the cache of `plan.buffer`, its copy block and redirects the readers;
/// returns the new function and the copy block's name.
pub fn apply_cache_read(func: &PrimFunc, plan: &CacheReadPlan) -> (PrimFunc, String) {
    add_cache(func, &plan.buffer, BufferSide::Read, plan.scope, plan.position, |b| plan.readers.iter().any(|r| r == b))
}

/// Makes `block` write the cache of `buffer` and adds the write-back block
/// after its top-level statement; returns the new function and the write-back
/// block's name.
pub fn apply_cache_write(func: &PrimFunc, block: &str, buffer: &str, scope: Scope) -> (PrimFunc, String) {
    let position = top_level_position(func, block).unwrap() + 1;
    add_cache(func, buffer, BufferSide::Write, scope, position, |b| b == block)
}

/// Sets the scope of the allocated buffer `buffer`.
pub fn apply_set_scope(func: &PrimFunc, buffer: &str, scope: Scope) -> PrimFunc {
    let mut out = func.clone();
    let b = out.allocs.iter_mut().find(|b| &*b.name == buffer).expect("an allocated buffer");
    b.scope = scope;
    out
}

impl Schedule {
    /// Copies the `read_buffer_index`-th buffer `block` reads into a new buffer
    /// of scope `storage_scope` and makes every reader read the copy; returns
    /// the copy block.
    pub fn cache_read(
        &mut self,
        block: BlockRV,
        read_buffer_index: usize,
        storage_scope: &str,
    ) -> Result<BlockRV, ScheduleError> {
        let name = self.block_name(block)?;
        let plan = check_cache_read(self.func(), &name, read_buffer_index, storage_scope)?;
        let (func, copy) = apply_cache_read(self.func(), &plan);
        let inst = Instruction::new(InstKind::CacheRead)
            .arg("block", Arg::Rv(block.rv()))
            .arg("read_buffer_index", Arg::Int(read_buffer_index as i64))
            .arg("storage_scope", Arg::Str(storage_scope.to_string()));
        Ok(self.commit_with_new_block(func, copy, inst))
    }

    /// Makes `block` write a new buffer of scope `storage_scope` instead of
    /// its output, and copies it back right after; returns the write-back block.
    pub fn cache_write(
        &mut self,
        block: BlockRV,
        write_buffer_index: usize,
        storage_scope: &str,
    ) -> Result<BlockRV, ScheduleError> {
        let name = self.block_name(block)?;
        let (buffer, scope) = check_cache_write(self.func(), &name, write_buffer_index, storage_scope)?;
        let (func, copy) = apply_cache_write(self.func(), &name, &buffer, scope);
        let inst = Instruction::new(InstKind::CacheWrite)
            .arg("block", Arg::Rv(block.rv()))
            .arg("write_buffer_index", Arg::Int(write_buffer_index as i64))
            .arg("storage_scope", Arg::Str(storage_scope.to_string()));
        Ok(self.commit_with_new_block(func, copy, inst))
    }

    /// Sets the storage scope of the intermediate buffer `block` writes.
    pub fn set_scope(&mut self, block: BlockRV, buffer_index: usize, storage_scope: &str) -> Result<(), ScheduleError> {
        let name = self.block_name(block)?;
        let (buffer, scope) = check_set_scope(self.func(), &name, buffer_index, storage_scope)?;
        let func = apply_set_scope(self.func(), &buffer, scope);
        self.commit(func, "set_scope");
        self.record(
            Instruction::new(InstKind::SetScope)
                .arg("block", Arg::Rv(block.rv()))
                .arg("buffer_index", Arg::Int(buffer_index as i64))
                .arg("storage_scope", Arg::Str(storage_scope.to_string())),
        );
        Ok(())
    }
}

pub(super) fn replay(sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    let b = map.block(map.arg(inst, "block")?)?;
    let scope = map.str_(inst, "storage_scope")?;
    let index = |name: &str| -> Result<usize, ScheduleError> {
        let v = map.int(inst, name)?;
        usize::try_from(v).map_err(|_| map.err(format!("`{name}` must not be negative")))
    };
    Ok(match inst.kind {
        InstKind::CacheRead => vec![sch.cache_read(b, index("read_buffer_index")?, scope)?.rv()],
        InstKind::CacheWrite => vec![sch.cache_write(b, index("write_buffer_index")?, scope)?.rv()],
        _ => {
            sch.set_scope(b, index("buffer_index")?, scope)?;
            vec![]
        }
    })
}
