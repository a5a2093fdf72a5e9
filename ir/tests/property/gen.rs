//! Random schedule steps: one random primitive call (with the handle lookups it
//! needs) on random blocks, loops and arguments, valid or not.

use std::collections::BTreeMap;

use kiln_ir::ir::region::{block_reads, block_writes};
use kiln_ir::ir::{BlockRealize, PrimFunc};
use kiln_ir::schedule::index_map::IndexMap;
use kiln_ir::schedule::primitive::annotate::{AnnArg, AnnTarget};
use kiln_ir::schedule::primitive::sampling::perfect_tilings;
use kiln_ir::schedule::testing::try_step;
use kiln_ir::schedule::{BlockRV, BufferSide, ExprRV, Factor, LoopRV, Schedule, ScheduleError};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Accepted and rejected calls per primitive.
#[derive(Default)]
pub struct Stats {
    pub per_primitive: BTreeMap<&'static str, (u64, u64)>,
    /// Rejections per primitive and error kind.
    pub reasons: BTreeMap<(&'static str, &'static str), u64>,
}

impl Stats {
    pub fn merge(&mut self, other: &Stats) {
        for (k, (a, r)) in &other.per_primitive {
            let e = self.per_primitive.entry(k).or_default();
            e.0 += a;
            e.1 += r;
        }
        for (k, n) in &other.reasons {
            *self.reasons.entry(*k).or_default() += n;
        }
    }

    pub fn totals(&self) -> (u64, u64) {
        self.per_primitive.values().fold((0, 0), |(a, r), (x, y)| (a + x, r + y))
    }
}

/// The state of one case: the schedule, the case's RNG, the handles seen so far
/// (some stale by now) and a log of the calls made.
pub struct Ctx {
    pub sch: Schedule,
    pub rng: ChaCha8Rng,
    pub stats: Stats,
    /// Every primitive call made, in order, with its outcome.
    pub log: Vec<String>,
    blocks: Vec<BlockRV>,
    loops: Vec<LoopRV>,
    exprs: Vec<ExprRV>,
}

/// A kind of random step.
type Step = fn(&mut Ctx) -> Option<()>;

const SCOPES: &[&str] = &["global", "global", "local", "shared", "bogus", ""];
const ANN_KEYS: &[&str] = &["pragma_auto_unroll_max_step", "pragma_unroll_explicit", "meta_schedule.tiling", ""];

impl Ctx {
    pub fn new(sch: Schedule, rng: ChaCha8Rng) -> Ctx {
        Ctx { sch, rng, stats: Stats::default(), log: vec![], blocks: vec![], loops: vec![], exprs: vec![] }
    }

    /// Runs one primitive call. A rejected call must leave the schedule as it
    /// was: function, trace, handles and RNG (checked by `testing::try_step`:
    /// a violation panics, and the caller reports it like any panic).
    fn call<T: std::fmt::Debug>(
        &mut self,
        name: &'static str,
        desc: String,
        f: impl FnOnce(&mut Schedule) -> Result<T, ScheduleError>,
    ) -> Option<T> {
        self.log.push(format!("{name}({desc})"));
        let out = try_step(&mut self.sch, f);
        let e = self.stats.per_primitive.entry(name).or_default();
        match out {
            Ok(v) => {
                e.0 += 1;
                self.log.last_mut().unwrap().push_str(&format!(" -> {v:?}"));
                Some(v)
            }
            Err(err) => {
                e.1 += 1;
                *self.stats.reasons.entry((name, err.kind())).or_default() += 1;
                self.log.last_mut().unwrap().push_str(&format!(" -> Err({err})"));
                None
            }
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn live_blocks(&self) -> Vec<String> {
        self.sch.func().blocks().iter().map(|b| b.block.name.clone()).collect()
    }

    /// A block handle: usually a fresh lookup of a live block, sometimes an
    /// earlier handle (possibly stale), rarely an unknown name.
    fn block(&mut self) -> Option<BlockRV> {
        if !self.blocks.is_empty() && self.chance(0.2) {
            return self.blocks.choose(&mut self.rng).copied();
        }
        let names = self.live_blocks();
        let name = if self.chance(0.03) { "no_such_block".to_string() } else { names.choose(&mut self.rng)?.clone() };
        let b = self.call("get_block", format!("{name:?}"), |s| s.get_block(&name))?;
        self.blocks.push(b);
        Some(b)
    }

    /// Like `block`, but usually a block for which `want` holds (if any does).
    fn block_where(&mut self, want: impl Fn(&PrimFunc, &BlockRealize) -> bool) -> Option<BlockRV> {
        let func = self.sch.func();
        let names: Vec<String> = func.blocks().iter().filter(|b| want(func, b)).map(|b| b.block.name.clone()).collect();
        if names.is_empty() || self.chance(0.25) {
            return self.block();
        }
        let name = names.choose(&mut self.rng)?.clone();
        let b = self.call("get_block", format!("{name:?}"), |s| s.get_block(&name))?;
        self.blocks.push(b);
        Some(b)
    }

    /// A loop of one of `bs` (or any loop when `bs` is empty or by chance).
    fn loop_of_any(&mut self, bs: &[BlockRV]) -> Option<LoopRV> {
        match bs.choose(&mut self.rng) {
            Some(b) if self.chance(0.8) => {
                let b = *b;
                self.loops_of(b)?.choose(&mut self.rng).copied()
            }
            _ => self.loop_(),
        }
    }

    fn loops_of(&mut self, b: BlockRV) -> Option<Vec<LoopRV>> {
        let ls = self.call("get_loops", format!("{b:?}"), |s| s.get_loops(b))?;
        self.loops.extend(&ls);
        Some(ls)
    }

    fn loop_(&mut self) -> Option<LoopRV> {
        if !self.loops.is_empty() && self.chance(0.15) {
            return self.loops.choose(&mut self.rng).copied();
        }
        let b = self.block()?;
        self.loops_of(b)?.choose(&mut self.rng).copied()
    }

    /// Whether loop `l` feeds a reduction iteration variable of block `b`.
    fn binds_reduce(&self, b: BlockRV, l: LoopRV) -> bool {
        let (Ok(bn), Ok(ln)) = (self.sch.block_name(b), self.sch.loop_name(l)) else { return false };
        let Some(br) = self.sch.func().block(&bn) else { return false };
        br.block
            .iter_vars
            .iter()
            .zip(&br.bindings)
            .any(|(iv, e)| iv.kind == kiln_ir::ir::IterKind::Reduce && e.vars().iter().any(|v| v.name() == ln))
    }

    fn extent(&self, l: LoopRV) -> Option<i64> {
        let name = self.sch.loop_name(l).ok()?;
        Some(self.sch.func().find_loop(&name)?.extent)
    }

    /// A split factor for a loop of extent `ext`.
    fn factor(&mut self, ext: i64) -> Option<Factor> {
        let ext = ext.max(1);
        let divisors: Vec<i64> = (1..=ext).filter(|d| ext % d == 0).collect();
        Some(match self.rng.gen_range(0..20) {
            0..=10 => Factor::Int(*divisors.choose(&mut self.rng).unwrap()),
            11..=16 => Factor::Int(self.rng.gen_range(1..=ext + 1)),
            17 => Factor::Int(self.rng.gen_range(-1..=0)),
            _ => match self.exprs.choose(&mut self.rng) {
                Some(e) => Factor::Rv(*e),
                None => Factor::Int(2),
            },
        })
    }

    fn split(&mut self) -> Option<()> {
        let l = self.loop_()?;
        let ext = self.extent(l).unwrap_or(8);
        let n = *[2, 2, 2, 2, 3, 3, 3, 1, 4].choose(&mut self.rng).unwrap();
        let none_at = if self.chance(0.7) { Some(self.rng.gen_range(0..n)) } else { None };
        // Each factor at most about what the earlier ones leave (so the loops
        // stay near the extent), except in a few wild splits.
        let wild = self.chance(0.05);
        let (mut fs, mut rest) = (Vec::new(), ext);
        for k in 0..n {
            let f = if Some(k) == none_at || self.chance(0.03) { None } else { self.factor(rest) };
            if let (Some(Factor::Int(v)), false) = (f, wild) {
                rest = if v > 0 { (rest + v - 1) / v } else { rest };
            }
            fs.push(f);
        }
        let ls = self.call("split", format!("{l:?}, {fs:?}"), |s| s.split(l, &fs))?;
        self.loops.extend(ls);
        Some(())
    }

    fn fuse(&mut self) -> Option<()> {
        let ls = if self.chance(0.1) {
            vec![self.loop_()?, self.loop_()?]
        } else {
            let b = self.block()?;
            let all = self.loops_of(b)?;
            if all.len() < 2 {
                return None;
            }
            let start = self.rng.gen_range(0..all.len() - 1);
            let len = self.rng.gen_range(2..=(all.len() - start).min(3));
            all[start..start + len].to_vec()
        };
        let f = self.call("fuse", format!("{ls:?}"), |s| s.fuse(&ls))?;
        self.loops.push(f);
        Some(())
    }

    fn reorder(&mut self) -> Option<()> {
        let b = self.block()?;
        let mut all = self.loops_of(b)?;
        if self.chance(0.1) {
            all.push(self.loop_()?);
        }
        all.shuffle(&mut self.rng);
        let k = self.rng.gen_range(1..=all.len().max(1));
        let mut ls: Vec<LoopRV> = all.into_iter().take(k).collect();
        if self.chance(0.05) && !ls.is_empty() {
            ls.push(ls[0]);
        }
        self.call("reorder", format!("{ls:?}"), |s| s.reorder(&ls))
    }

    fn decompose_reduction(&mut self) -> Option<()> {
        let b = self.block_where(|_, br| br.block.init.is_some())?;
        let l = if self.chance(0.8) { *self.loops_of(b)?.choose(&mut self.rng)? } else { self.loop_()? };
        let init = self.call("decompose_reduction", format!("{b:?}, {l:?}"), |s| s.decompose_reduction(b, l))?;
        self.blocks.push(init);
        Some(())
    }

    fn for_kind(&mut self) -> Option<()> {
        let l = self.loop_()?;
        match self.rng.gen_range(0..3) {
            0 => self.call("vectorize", format!("{l:?}"), |s| s.vectorize(l)),
            1 => self.call("parallel", format!("{l:?}"), |s| s.parallel(l)),
            _ => self.call("unroll", format!("{l:?}"), |s| s.unroll(l)),
        }
    }

    fn annotate(&mut self) -> Option<()> {
        let t = if self.chance(0.5) { AnnTarget::Loop(self.loop_()?) } else { AnnTarget::Block(self.block()?) };
        let key = ANN_KEYS.choose(&mut self.rng).unwrap().to_string();
        if self.chance(0.3) {
            return self.call("unannotate", format!("{t:?}, {key:?}"), |s| s.unannotate(t, &key));
        }
        let v = match (self.rng.gen_range(0..3), self.exprs.choose(&mut self.rng)) {
            (0, _) => AnnArg::Str("x".into()),
            (1, Some(e)) => AnnArg::Rv(*e),
            _ => AnnArg::Int(self.rng.gen_range(-1..=64)),
        };
        self.call("annotate", format!("{t:?}, {key:?}, {v:?}"), |s| s.annotate(t, &key, v))?;
        if self.chance(0.3) {
            self.call("unannotate", format!("{t:?}, {key:?}"), |s| s.unannotate(t, &key))?;
        }
        Some(())
    }

    fn cache(&mut self) -> Option<()> {
        let b = self.block()?;
        let scope = SCOPES.choose(&mut self.rng).unwrap().to_string();
        let reads =
            self.sch.block_name(b).ok().and_then(|n| Some(block_reads(&self.sch.func().block(&n)?.block).len()));
        let reads = reads.unwrap_or(2);
        let i = if self.chance(0.9) && reads > 0 { self.rng.gen_range(0..reads) } else { reads };
        match self.rng.gen_range(0..5) {
            0 | 1 => {
                let c = self.call("cache_read", format!("{b:?}, {i}, {scope:?}"), |s| s.cache_read(b, i, &scope))?;
                self.blocks.push(c);
                // then often move or inline the copy
                match self.rng.gen_range(0..4) {
                    0 => self.call("compute_inline", format!("{c:?}"), |s| s.compute_inline(c)),
                    1 => {
                        let l = self.loop_of_any(&[b])?;
                        let index = *[-1, -1, 0].choose(&mut self.rng).unwrap();
                        let d = format!("{c:?}, {l:?}, true, {index}");
                        self.call("compute_at", d, |s| s.compute_at(c, l, true, index))
                    }
                    _ => Some(()),
                }
            }
            2 | 3 => {
                let i = usize::from(self.chance(0.1));
                let c = self.call("cache_write", format!("{b:?}, {i}, {scope:?}"), |s| s.cache_write(b, i, &scope))?;
                self.blocks.push(c);
                match self.rng.gen_range(0..4) {
                    0 => self.call("reverse_compute_inline", format!("{c:?}"), |s| s.reverse_compute_inline(c)),
                    1 => {
                        let l = self.loop_of_any(&[b])?;
                        let index = *[-1, -1, 0].choose(&mut self.rng).unwrap();
                        let d = format!("{c:?}, {l:?}, false, {index}");
                        self.call("reverse_compute_at", d, |s| s.reverse_compute_at(c, l, false, index))
                    }
                    _ => Some(()),
                }
            }
            _ => {
                let b = self.block_where(|f, br| f.param(&br.block.body.buffer).is_none())?;
                let i = usize::from(self.chance(0.1));
                self.call("set_scope", format!("{b:?}, {i}, {scope:?}"), |s| s.set_scope(b, i, &scope))
            }
        }
    }

    fn compute_at(&mut self) -> Option<()> {
        let reverse = self.chance(0.5);
        let b = if reverse {
            self.block_where(|f, br| block_reads(&br.block).iter().any(|r| f.param(&r.buffer).is_none()))?
        } else {
            self.block_where(|f, br| f.param(&br.block.body.buffer).is_none())?
        };
        let related = if reverse {
            self.call("get_producers", format!("{b:?}"), |s| s.get_producers(b))?
        } else {
            self.call("get_consumers", format!("{b:?}"), |s| s.get_consumers(b))?
        };
        let l = self.loop_of_any(&related)?;
        let preserve = self.chance(0.5);
        let index = *[-1, -1, -1, -2, 0, 1, 3].choose(&mut self.rng).unwrap();
        let d = format!("{b:?}, {l:?}, {preserve}, {index}");
        if reverse {
            self.call("reverse_compute_at", d, |s| s.reverse_compute_at(b, l, preserve, index))
        } else {
            self.call("compute_at", d, |s| s.compute_at(b, l, preserve, index))
        }
    }

    fn inline(&mut self) -> Option<()> {
        let b = self.block_where(|f, br| br.block.init.is_none() && f.param(&br.block.body.buffer).is_none())?;
        if self.chance(0.5) {
            self.call("compute_inline", format!("{b:?}"), |s| s.compute_inline(b))
        } else {
            self.call("reverse_compute_inline", format!("{b:?}"), |s| s.reverse_compute_inline(b))
        }
    }

    fn rfactor(&mut self) -> Option<()> {
        let l = if self.chance(0.8) {
            let b = self.block_where(|_, br| br.block.init.is_some())?;
            let ls = self.loops_of(b)?;
            let reduce: Vec<LoopRV> = ls.iter().copied().filter(|l| self.binds_reduce(b, *l)).collect();
            *reduce.choose(&mut self.rng).or_else(|| ls.choose(&mut self.rng))?
        } else {
            self.loop_()?
        };
        let axis = *[0, 0, 0, 1, 1, 2, -1, 3].choose(&mut self.rng).unwrap();
        let b = self.call("rfactor", format!("{l:?}, {axis}"), |s| s.rfactor(l, axis))?;
        self.blocks.push(b);
        Some(())
    }

    /// A random index map for a buffer of `shape` (sometimes of the wrong
    /// arity, non-injective or out of range).
    fn index_map(&mut self, shape: &[i64]) -> IndexMap {
        let n = if self.chance(0.05) { shape.len() + 1 } else { shape.len() };
        let params: Vec<String> = (0..n).map(|k| format!("a{k}")).collect();
        let mut res: Vec<String> = params.clone();
        res.shuffle(&mut self.rng);
        match self.rng.gen_range(0..6) {
            0 | 1 if n > 0 => {
                // split one dimension
                let k = self.rng.gen_range(0..n);
                let c = *[2, 3, 4, 16].choose(&mut self.rng).unwrap();
                let p = res[k].clone();
                res[k] = format!("T.floordiv({p}, {c})");
                res.insert(k + 1, format!("{p} % {c}"));
            }
            2 if n > 1 => {
                // fuse two adjacent results: injective only with the right stride
                let k = self.rng.gen_range(0..n - 1);
                let pos = |p: &String| params.iter().position(|q| q == p).unwrap();
                let e = shape.get(pos(&res[k + 1])).copied().unwrap_or(4);
                let stride = if self.chance(0.8) { e } else { e - 1 };
                let (a, b) = (res[k].clone(), res.remove(k + 1));
                res[k] = format!("{a} * {stride} + {b}");
            }
            3 if n > 0 => {
                let k = self.rng.gen_range(0..n);
                res[k] =
                    if self.chance(0.5) { format!("{} + 1", res[k]) } else { format!("T.floordiv({}, 2)", res[k]) };
            }
            _ => {}
        }
        IndexMap::parse(&format!("lambda {}: ({},)", params.join(", "), res.join(", "))).unwrap()
    }

    fn transform_layout(&mut self) -> Option<()> {
        let b = self.block_where(|f, br| f.param(&br.block.body.buffer).is_none())?;
        // usually an intermediate buffer of the block, sometimes any index
        let inner: Vec<(BufferSide, usize)> = match self.sch.block_name(b).ok().and_then(|n| self.sch.func().block(&n))
        {
            Some(br) => {
                let f = self.sch.func();
                let reads = block_reads(&br.block).into_iter().map(|r| (BufferSide::Read, r));
                let sides = reads.chain(block_writes(&br.block).into_iter().map(|r| (BufferSide::Write, r)));
                let mut count = [0usize; 2];
                let mut out = vec![];
                for (side, r) in sides {
                    let k = &mut count[usize::from(side == BufferSide::Write)];
                    if f.param(&r.buffer).is_none() {
                        out.push((side, *k));
                    }
                    *k += 1;
                }
                out
            }
            None => vec![],
        };
        let (side, i) = match inner.choose(&mut self.rng) {
            Some(x) if self.chance(0.85) => *x,
            _ => (if self.chance(0.5) { BufferSide::Read } else { BufferSide::Write }, self.rng.gen_range(0..3usize)),
        };
        let shape = self.sch.block_name(b).ok().and_then(|name| {
            let br = self.sch.func().block(&name)?;
            let regions = if side == BufferSide::Read { block_reads(&br.block) } else { block_writes(&br.block) };
            Some(self.sch.func().buffer(&regions.get(i)?.buffer)?.shape.clone())
        });
        let map = self.index_map(&shape.unwrap_or_else(|| vec![4, 4]));
        let d = format!("{b:?}, ({side:?}, {i}), {:?}", map.to_arg());
        self.call("transform_layout", d, |s| s.transform_layout(b, (side, i), &map))
    }

    fn sample_perfect_tile(&mut self) -> Option<()> {
        let l = self.loop_()?;
        let ext = self.extent(l).unwrap_or(8);
        let n = *[1, 2, 2, 3, 3, 4, 0].choose(&mut self.rng).unwrap();
        let max_inner = *[0, 0, 4, 16, 1].choose(&mut self.rng).unwrap();
        let decision = match self.rng.gen_range(0..10) {
            0..=5 => None,
            6..=8 if n > 0 => perfect_tilings(ext, n as usize, 0).choose(&mut self.rng).cloned(),
            _ => Some((0..n).map(|_| self.rng.gen_range(0..=ext)).collect()),
        };
        let d = format!("{l:?}, {n}, {max_inner}, {decision:?}");
        let es = self.call("sample_perfect_tile", d, |s| s.sample_perfect_tile(l, n, max_inner, decision))?;
        self.exprs.extend(&es);
        if self.chance(0.6) {
            // split by the sampled factors, the inferred one sometimes left out
            let mut fs: Vec<Option<Factor>> = es.iter().map(|e| Some(Factor::Rv(*e))).collect();
            if self.chance(0.3) {
                fs[0] = None;
            }
            let ls = self.call("split", format!("{l:?}, {fs:?}"), |s| s.split(l, &fs))?;
            self.loops.extend(ls);
        }
        Some(())
    }

    fn sample_categorical(&mut self) -> Option<()> {
        let n = self.rng.gen_range(0..=4usize);
        let cands: Vec<i64> = (0..n).map(|_| self.rng.gen_range(0..=64)).collect();
        let mut probs: Vec<f64> = (0..n).map(|_| self.rng.gen_range(0..=4) as f64 / 4.0).collect();
        if self.chance(0.05) {
            probs.push(0.5);
        }
        let decision = if self.chance(0.5) { None } else { Some(self.rng.gen_range(-1..=n as i64)) };
        let d = format!("{cands:?}, {probs:?}, {decision:?}");
        let e = self.call("sample_categorical", d, |s| s.sample_categorical(&cands, &probs, decision))?;
        self.exprs.push(e);
        Some(())
    }

    fn sample_compute_location(&mut self) -> Option<()> {
        let b = self.block()?;
        let decision = if self.chance(0.6) { None } else { Some(self.rng.gen_range(-3..=4)) };
        let d = format!("{b:?}, {decision:?}");
        let l = self.call("sample_compute_location", d, |s| s.sample_compute_location(b, decision))?;
        self.loops.push(l);
        if self.chance(0.7) {
            let preserve = self.chance(0.5);
            self.call("compute_at", format!("{b:?}, {l:?}, {preserve}, -1"), |s| s.compute_at(b, l, preserve, -1))?;
        }
        Some(())
    }

    fn producers_consumers(&mut self) -> Option<()> {
        let b = self.block()?;
        let bs = if self.chance(0.5) {
            self.call("get_producers", format!("{b:?}"), |s| s.get_producers(b))?
        } else {
            self.call("get_consumers", format!("{b:?}"), |s| s.get_consumers(b))?
        };
        self.blocks.extend(bs);
        Some(())
    }

    /// One random step (a primitive call and the lookups it needs).
    pub fn step(&mut self) {
        let steps: &[(u32, Step)] = &[
            (10, Ctx::split),
            (5, Ctx::fuse),
            (6, Ctx::reorder),
            (4, Ctx::decompose_reduction),
            (5, Ctx::for_kind),
            (2, Ctx::annotate),
            (6, Ctx::cache),
            (7, Ctx::compute_at),
            (4, Ctx::inline),
            (4, Ctx::rfactor),
            (4, Ctx::transform_layout),
            (4, Ctx::sample_perfect_tile),
            (1, Ctx::sample_categorical),
            (4, Ctx::sample_compute_location),
            (1, Ctx::producers_consumers),
        ];
        let total: u32 = steps.iter().map(|s| s.0).sum();
        let mut x = self.rng.gen_range(0..total);
        for (w, f) in steps {
            if x < *w {
                f(self);
                return;
            }
            x -= w;
        }
    }
}
