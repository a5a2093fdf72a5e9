//! `compute_inline` and `reverse_compute_inline`: fold an elementwise block
//! into its consumers, or a consumer into its producer.
//!
//! ```text
//! y[vi, vj] = a[vi, vj] * 2.0          sch.compute_inline(block=y)
//! z[vi, vj] = y[vi, vj] + 1.0    ==>   z[vi, vj] = a[vi, vj] * 2.0 + 1.0
//!
//! y[vi, vj] = a[vi, vj] * 2.0          sch.reverse_compute_inline(block=z)
//! z[vi, vj] = y[vi, vj] + 1.0    ==>   (block "y") z[vi, vj] = a[vi, vj] * 2.0 + 1.0
//! ```
//!
//! `compute_inline(block)` substitutes the block's value into every load of
//! its buffer in its consumers (its iteration variables replaced by the load's
//! indices), removes the block and the loops it leaves empty, and drops the
//! buffer from the function's allocations once nothing uses it.
//!
//! `reverse_compute_inline(block)` rewrites the block's single producer to
//! store the block's value (the load of the intermediate replaced by the
//! producer's value, the block's iteration variables expressed through the
//! producer's store indices) into the block's output, then removes the block
//! and, once unused, the intermediate. The producer keeps its name, loops and
//! bindings.

use super::RvMap;
use crate::ir::region::block_loads;
use crate::ir::{block_read_buffers, Analyzer, Block, Expr, PrimFunc, Stmt, Store, Var};
use crate::schedule::analysis::{
    block_position, buffer_in_use, consumers, first_writer_of, loop_block_span, normalize, outermost_loop_apart,
    prune_empty, readers, replace_block, writers,
};
use crate::schedule::error::{family_error, name_list};
use crate::schedule::{BlockRV, Schedule, ScheduleError};
use crate::trace::{Arg, InstKind, Instruction, Rv};

family_error! { ComputeInlineError, "compute_inline",
    /// The block has reduce iteration variables or an init.
    NotComplete { block: String } =>
        "block \"{block}\" is not complete (it has reduce iteration variables or an init); only a block computing each element once from its inputs can be inlined",
    /// The block writes a function parameter.
    OutputBlock { block: String, buffer: String } =>
        "block \"{block}\" writes the function parameter `{buffer}`, which must still be written; only intermediate buffers can be inlined",
    /// The store indices are not the iteration variables, each once.
    StoreNotPlain { block: String, buffer: String } =>
        "block \"{block}\" writes `{buffer}` at indices that are not its iteration variables, each exactly once, so a load cannot be mapped back to one instance of it",
    /// Another block writes the same buffer.
    NotSoleWriter { block: String, buffer: String, other: String } =>
        "block \"{other}\" also writes `{buffer}`, the buffer of block \"{block}\"; only a single writer can be inlined",
    /// The block reads the buffer it writes.
    ReadsOwnOutput { block: String, buffer: String } =>
        "block \"{block}\" reads `{buffer}`, the buffer it writes, so its value cannot be substituted",
    /// Nobody reads the block's buffer.
    NoConsumer { block: String } => "no block reads `{block}`'s output, so there is nothing to inline it into",
    /// A consumer runs before the block.
    ConsumerBeforeBlock { block: String, consumer: String } =>
        "consumer \"{consumer}\" runs before block \"{block}\"; inlining would change what it reads",
    /// A block between the block and a consumer writes one of the block's inputs.
    InputOverwritten { block: String, buffer: String, writer: String } =>
        "block \"{writer}\" writes `{buffer}`, which block \"{block}\" reads, before a consumer that would compute the inlined value; it would read other values",
}

family_error! { ReverseComputeInlineError, "reverse_compute_inline",
    /// The block has reduce iteration variables or an init.
    NotComplete { block: String } =>
        "block \"{block}\" is not complete (it has reduce iteration variables or an init); only an elementwise consumer can be inlined into its producer",
    /// The block has a predicate.
    Predicated { block: String } =>
        "block \"{block}\" has a predicate, which cannot be carried into its producer",
    /// No input of the block is written by a block.
    NoProducer { block: String } => "no block writes a buffer that block \"{block}\" reads",
    /// Several inputs of the block are written by blocks.
    SeveralProducedInputs { block: String, buffers: String } =>
        "block \"{block}\" reads several buffers written by blocks ({buffers}); it must read a single one",
    /// The produced input is a function parameter.
    NotIntermediate { block: String, buffer: String } =>
        "`{buffer}`, which block \"{block}\" reads from its producer, is a function parameter that must still be written",
    /// The produced input has several writers.
    NotSingleProducer { block: String, buffer: String, count: usize } =>
        "`{buffer}` is written by {count} blocks; block \"{block}\" must have a single producer",
    /// Another block reads the produced input.
    OtherReaders { block: String, buffer: String, other: String } =>
        "block \"{other}\" also reads `{buffer}`, which would no longer be written once block \"{block}\" is inlined into its producer",
    /// The block does not read its input at exactly its iteration variables.
    LoadNotPlain { block: String, buffer: String } =>
        "block \"{block}\" reads `{buffer}` other than through one index tuple holding each of its iteration variables exactly once",
    /// The producer has reduce iteration variables or an init.
    ProducerNotComplete { block: String, producer: String } =>
        "producer \"{producer}\" of block \"{block}\" is not complete (it is a reduction); only complete producers take an inlined consumer",
    /// The producer's store indices are not its iteration variables, each once.
    ProducerStoreNotPlain { block: String, producer: String, buffer: String } =>
        "producer \"{producer}\" of block \"{block}\" writes `{buffer}` at indices that are not its iteration variables, each exactly once",
    /// The producer runs after the block.
    ProducerAfterBlock { block: String, producer: String } =>
        "producer \"{producer}\" runs after block \"{block}\"; inlining would change what the block reads",
    /// The block and its producer cover different parts of the buffer.
    DomainMismatch { block: String, producer: String, buffer: String, dim: usize, consumer_extent: i64, producer_extent: i64 } =>
        "block \"{block}\" iterates over {consumer_extent} elements of dimension {dim} of `{buffer}`, but producer \"{producer}\" writes {producer_extent}",
    /// A block between the producer and the block reads or writes the block's output.
    OutputAccessed { block: String, buffer: String, other: String } =>
        "block \"{other}\" accesses `{buffer}`, the output of block \"{block}\", between the producer and the block; it would see the block's writes early",
}

/// For indices that are the block's iteration variables, each exactly once:
/// per dimension, the position of its iteration variable.
fn exact_vars(block: &Block, indices: &[Expr]) -> Option<Vec<usize>> {
    let mut out: Vec<usize> = Vec::with_capacity(indices.len());
    for e in indices {
        let k = block.iter_vars.iter().position(|iv| Some(&iv.var) == e.as_var())?;
        if out.contains(&k) {
            return None;
        }
        out.push(k);
    }
    (out.len() == block.iter_vars.len()).then_some(out)
}

fn is_complete(block: &Block) -> bool {
    !block.is_reduction() && block.init.is_none()
}

/// The program-order position of the last block that runs before the last
/// instance of `target`, counting from `anchor`: the end of the outermost loop
/// around `target` that does not enclose `anchor`, or `target` itself.
fn reach(func: &PrimFunc, anchor: &str, target: &str) -> usize {
    let chain: Vec<String> = func.loops_of_block(target).unwrap().iter().map(|l| l.var.to_string()).collect();
    match outermost_loop_apart(func, anchor, &chain) {
        Some(l) => loop_block_span(func, &l).unwrap().1,
        None => block_position(func, target).unwrap(),
    }
}

/// Checks `compute_inline(block)`.
///
/// Conditions, in order: 1. the block is complete (spatial iteration
/// variables only, no init); 2. it writes an intermediate buffer, not a
/// parameter; 3. its store indices are its iteration variables, each once;
/// 4. it is the only writer of the buffer; 5. it does not read the buffer;
/// 6. it has a consumer; 7. no consumer runs before it; 8. no block from it to
/// the last instance of its last consumer writes a buffer it reads.
pub fn check_compute_inline(func: &PrimFunc, block: &str) -> Result<(), ComputeInlineError> {
    let br = func.block(block).expect("live block");
    let b = || block.to_string();
    if !is_complete(&br.block) {
        return Err(ComputeInlineError::NotComplete { block: b() });
    }
    let buffer = br.block.body.buffer.clone();
    if func.param(&buffer).is_some() {
        return Err(ComputeInlineError::OutputBlock { block: b(), buffer: buffer.to_string() });
    }
    if exact_vars(&br.block, &br.block.body.indices).is_none() {
        return Err(ComputeInlineError::StoreNotPlain { block: b(), buffer: buffer.to_string() });
    }
    if let Some(other) = writers(func, &buffer).into_iter().find(|w| w != block) {
        return Err(ComputeInlineError::NotSoleWriter { block: b(), buffer: buffer.to_string(), other });
    }
    let reads = block_read_buffers(&br.block);
    if reads.contains(&buffer) {
        return Err(ComputeInlineError::ReadsOwnOutput { block: b(), buffer: buffer.to_string() });
    }
    let cons = consumers(func, block);
    if cons.is_empty() {
        return Err(ComputeInlineError::NoConsumer { block: b() });
    }
    let pos = block_position(func, block).unwrap();
    if let Some(c) = cons.iter().find(|c| block_position(func, c).unwrap() < pos) {
        return Err(ComputeInlineError::ConsumerBeforeBlock { block: b(), consumer: c.clone() });
    }
    let end = cons.iter().map(|c| reach(func, block, c)).max().unwrap();
    if let Some((writer, buffer)) = first_writer_of(func, pos + 1..=end, &reads) {
        return Err(ComputeInlineError::InputOverwritten { block: b(), buffer, writer });
    }
    Ok(())
}

/// Rewrites both stores of a block with `f` (bottom-up, as `Expr::map`) and
/// simplifies their index arithmetic over the block's domain.
fn rewrite_block(block: &mut Block, f: &mut impl FnMut(Expr) -> Expr) {
    let mut an = Analyzer::new();
    for iv in &block.iter_vars {
        an.bind(&iv.var, iv.extent);
    }
    let mut go = |s: &Store| Store {
        buffer: s.buffer.clone(),
        indices: s.indices.iter().map(|e| an.simplify(&e.map(f))).collect(),
        value: an.simplify(&s.value.map(f)),
    };
    block.init = block.init.as_ref().map(&mut go);
    block.body = go(&block.body);
}

/// Removes block `name` (pruning loops left empty) and the allocation of
/// `buffer` if nothing uses it any more.
fn remove_block(func: &PrimFunc, name: &str, buffer: &str) -> PrimFunc {
    let f = replace_block(func, name, |_| Stmt::Seq(vec![])).expect("live block");
    let mut f = PrimFunc { body: prune_empty(f.body.clone()), ..f };
    if !buffer_in_use(&f, buffer) {
        f.allocs.retain(|a| &*a.name != buffer);
    }
    normalize(f)
}

/// Inlines the checked block into its consumers.
pub fn apply_compute_inline(func: &PrimFunc, block: &str) -> PrimFunc {
    let p = func.block(block).expect("live block").block.clone();
    let buffer = p.body.buffer.clone();
    let dims = exact_vars(&p, &p.body.indices).expect("checked store");
    let iter_of = |v: &Var| dims.iter().position(|k| &p.iter_vars[*k].var == v);
    let mut inline = |e: Expr| match e {
        Expr::Load(l) if l.buffer == buffer => p.body.value.substitute(&|v| iter_of(v).map(|d| l.indices[d].clone())),
        other => other,
    };
    let body = func.body.clone().map_blocks(&mut |mut br| {
        if block_read_buffers(&br.block).contains(&buffer) && br.block.name != block {
            rewrite_block(&mut br.block, &mut inline);
        }
        br
    });
    remove_block(&PrimFunc { body, ..func.clone() }, block, &buffer)
}

/// Checks `reverse_compute_inline(block)`; returns the producer's name.
///
/// Conditions, in order: 1. the block is complete; 2. it has no predicate;
/// 3. exactly one buffer it reads (besides its output) is written by a block;
/// 4. that buffer is an intermediate, not a parameter; 5. it has a single
/// writer, the producer; 6. the producer is complete; 7. the block is the
/// buffer's only reader; 8. the block reads it through one index tuple
/// holding each of its iteration variables once; 9. the producer stores at its iteration
/// variables, each once; 10. the producer runs before the block; 11. both
/// iterate over the same extent in every dimension of the buffer; 12. no
/// block between the producer and the block (nor the producer) accesses the
/// block's output. (Its other inputs have no writer at all, by 3.)
pub fn check_reverse_compute_inline(func: &PrimFunc, block: &str) -> Result<String, ReverseComputeInlineError> {
    let q = func.block(block).expect("live block");
    let b = || block.to_string();
    if !is_complete(&q.block) {
        return Err(ReverseComputeInlineError::NotComplete { block: b() });
    }
    if !q.predicate.is_true() {
        return Err(ReverseComputeInlineError::Predicated { block: b() });
    }
    let out = q.block.body.buffer.clone();
    let reads = block_read_buffers(&q.block);
    let produced: Vec<_> = reads.iter().filter(|r| **r != out && !writers(func, r).is_empty()).cloned().collect();
    let buffer = match produced.as_slice() {
        [] => return Err(ReverseComputeInlineError::NoProducer { block: b() }),
        [one] => one.clone(),
        many => {
            let buffers = name_list(many, '`');
            return Err(ReverseComputeInlineError::SeveralProducedInputs { block: b(), buffers });
        }
    };
    let buf = || buffer.to_string();
    if func.param(&buffer).is_some() {
        return Err(ReverseComputeInlineError::NotIntermediate { block: b(), buffer: buf() });
    }
    let ws = writers(func, &buffer);
    if ws.len() != 1 {
        return Err(ReverseComputeInlineError::NotSingleProducer { block: b(), buffer: buf(), count: ws.len() });
    }
    let producer = ws[0].clone();
    let p = func.block(&producer).unwrap();
    if !is_complete(&p.block) {
        return Err(ReverseComputeInlineError::ProducerNotComplete { block: b(), producer });
    }
    if let Some(other) = readers(func, &buffer).into_iter().find(|r| r != block) {
        return Err(ReverseComputeInlineError::OtherReaders { block: b(), buffer: buf(), other });
    }
    let loads: Vec<_> = block_loads(&q.block).into_iter().filter(|l| l.buffer == buffer).collect();
    let qdims = exact_vars(&q.block, &loads[0].indices)
        .filter(|_| loads.iter().all(|l| l.indices == loads[0].indices))
        .ok_or_else(|| ReverseComputeInlineError::LoadNotPlain { block: b(), buffer: buf() })?;
    let pdims = exact_vars(&p.block, &p.block.body.indices).ok_or_else(|| {
        ReverseComputeInlineError::ProducerStoreNotPlain { block: b(), producer: producer.clone(), buffer: buf() }
    })?;
    let (ppos, qpos) = (block_position(func, &producer).unwrap(), block_position(func, block).unwrap());
    if ppos > qpos {
        return Err(ReverseComputeInlineError::ProducerAfterBlock { block: b(), producer });
    }
    for (dim, (qk, pk)) in qdims.iter().zip(&pdims).enumerate() {
        let (ce, pe) = (q.block.iter_vars[*qk].extent, p.block.iter_vars[*pk].extent);
        if ce != pe {
            return Err(ReverseComputeInlineError::DomainMismatch {
                block: b(),
                producer,
                buffer: buf(),
                dim,
                consumer_extent: ce,
                producer_extent: pe,
            });
        }
    }
    let start = match outermost_loop_apart(
        func,
        block,
        &func.loops_of_block(&producer).unwrap().iter().map(|l| l.var.to_string()).collect::<Vec<_>>(),
    ) {
        Some(l) => loop_block_span(func, &l).unwrap().0,
        None => ppos,
    };
    for w in &func.blocks()[start..qpos] {
        let w_reads = block_read_buffers(&w.block);
        if w_reads.contains(&out) || (w.block.name != producer && w.block.body.buffer == out) {
            return Err(ReverseComputeInlineError::OutputAccessed {
                block: b(),
                buffer: out.to_string(),
                other: w.block.name.clone(),
            });
        }
    }
    Ok(producer)
}

/// Inlines the checked block into its producer.
pub fn apply_reverse_compute_inline(func: &PrimFunc, block: &str, producer: &str) -> PrimFunc {
    let q = func.block(block).expect("live block").block.clone();
    let p = func.block(producer).expect("live producer").block.clone();
    let buffer = p.body.buffer.clone();
    let load = block_loads(&q).into_iter().find(|l| l.buffer == buffer).expect("checked load").clone();
    let qdims = exact_vars(&q, &load.indices).expect("checked load");
    let mut fold = |e: Expr| match e {
        Expr::Load(l) if l.buffer == buffer => p.body.value.clone(),
        Expr::Var(v) => match qdims.iter().position(|k| q.iter_vars[*k].var == v) {
            Some(d) => p.body.indices[d].clone(),
            None => Expr::Var(v),
        },
        other => other,
    };
    let f = replace_block(func, producer, |mut br| {
        br.block.body = q.body.clone();
        rewrite_block(&mut br.block, &mut fold);
        Stmt::Block(Box::new(br))
    })
    .expect("live producer");
    remove_block(&f, block, &buffer)
}

impl Schedule {
    /// Inlines `block` into its consumers and removes it.
    pub fn compute_inline(&mut self, block: BlockRV) -> Result<(), ScheduleError> {
        let name = self.block_name(block)?;
        check_compute_inline(self.func(), &name)?;
        let func = apply_compute_inline(self.func(), &name);
        self.commit(func, "compute_inline");
        self.record(Instruction::new(InstKind::ComputeInline).arg("block", Arg::Rv(block.rv())));
        Ok(())
    }

    /// Inlines consumer `block` into its single producer and removes it.
    pub fn reverse_compute_inline(&mut self, block: BlockRV) -> Result<(), ScheduleError> {
        let name = self.block_name(block)?;
        let producer = check_reverse_compute_inline(self.func(), &name)?;
        let func = apply_reverse_compute_inline(self.func(), &name, &producer);
        self.commit(func, "reverse_compute_inline");
        self.record(Instruction::new(InstKind::ReverseComputeInline).arg("block", Arg::Rv(block.rv())));
        Ok(())
    }
}

pub(super) fn replay(sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    let b = map.block(map.arg(inst, "block")?)?;
    if inst.kind == InstKind::ComputeInline {
        sch.compute_inline(b)?;
    } else {
        sch.reverse_compute_inline(b)?;
    }
    Ok(vec![])
}
