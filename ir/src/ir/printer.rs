//! Prints IR as TVMScript-like text (the chapter's `sch.mod.script()`).
//!
//! The output is stable (it is what the snapshot tests and the workload hash
//! see): the same IR always prints the same text.

use std::fmt::Write;

use super::dtype::DataType;
use super::expr::{BinOp, Const, Expr, UnOp};
use super::region::{block_reads, block_writes, Region};
use super::stmt::{AnnValue, Annotations, BlockRealize, Buffer, For, ForKind, IterKind, PrimFunc, Scope, Stmt, Store};

/// Precedence levels, loosest first.
fn prec(op: BinOp) -> u8 {
    match op {
        BinOp::Or => 1,
        BinOp::And => 2,
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => 3,
        BinOp::Add | BinOp::Sub => 4,
        BinOp::Mul | BinOp::Div | BinOp::FloorDiv | BinOp::FloorMod => 5,
        BinOp::Rem | BinOp::Min | BinOp::Max => 7,
    }
}

fn op_str(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::FloorMod => "%",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::And => "and",
        BinOp::Or => "or",
        BinOp::Rem => "T.truncmod",
        BinOp::Min => "T.min",
        BinOp::Max => "T.max",
    }
}

/// Formats a float so that it reads back to the same value (`0.0`, `1.5`, `1e-7`).
pub fn float_str(v: f64, is_f32: bool) -> String {
    if v.is_nan() {
        return "\"nan\"".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "\"inf\"".into() } else { "\"-inf\"".into() };
    }
    if is_f32 {
        format!("{:?}", v as f32)
    } else {
        format!("{v:?}")
    }
}

pub fn const_str(c: Const) -> String {
    match c {
        Const::F32(v) => format!("T.float32({})", float_str(v as f64, true)),
        Const::F64(v) => format!("T.float64({})", float_str(v, false)),
        Const::I32(v) => format!("T.int32({v})"),
        Const::Bool(v) => format!("T.bool({})", if v { "True" } else { "False" }),
    }
}

fn write_expr(out: &mut String, e: &Expr, outer: u8) {
    match e {
        Expr::Var(v) => out.push_str(v.name()),
        Expr::Int(v) if *v < 0 && outer > 4 => write!(out, "({v})").unwrap(),
        Expr::Int(v) => write!(out, "{v}").unwrap(),
        Expr::Const(c) => out.push_str(&const_str(*c)),
        Expr::Load(l) => {
            out.push_str(&l.buffer);
            out.push('[');
            for (i, idx) in l.indices.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, idx, 0);
            }
            out.push(']');
        }
        Expr::Binary(op, a, b) if prec(*op) == 7 => {
            write!(out, "{}(", op_str(*op)).unwrap();
            write_expr(out, a, 0);
            out.push_str(", ");
            write_expr(out, b, 0);
            out.push(')');
        }
        Expr::Binary(op, a, b) => {
            let p = prec(*op);
            let paren = p < outer;
            if paren {
                out.push('(');
            }
            write_expr(out, a, if op.is_compare() { p + 1 } else { p });
            write!(out, " {} ", op_str(*op)).unwrap();
            write_expr(out, b, p + 1);
            if paren {
                out.push(')');
            }
        }
        Expr::Unary(UnOp::Neg, a) => {
            out.push('-');
            write_expr(out, a, 6);
        }
        Expr::Unary(UnOp::Not, a) => {
            if outer > 2 {
                out.push('(');
            }
            out.push_str("not ");
            write_expr(out, a, 3);
            if outer > 2 {
                out.push(')');
            }
        }
        Expr::Unary(op, a) => {
            write!(out, "T.{}(", op.tvm_name()).unwrap();
            write_expr(out, a, 0);
            out.push(')');
        }
        Expr::Select(c, t, f) => {
            out.push_str("T.if_then_else(");
            write_expr(out, c, 0);
            out.push_str(", ");
            write_expr(out, t, 0);
            out.push_str(", ");
            write_expr(out, f, 0);
            out.push(')');
        }
        Expr::Cast(t, a) => {
            write!(out, "T.Cast(\"{}\", ", t.tvm_name()).unwrap();
            write_expr(out, a, 0);
            out.push(')');
        }
    }
}

/// Prints one expression.
pub fn expr_to_string(e: &Expr) -> String {
    let mut s = String::new();
    write_expr(&mut s, e, 0);
    s
}

struct Printer<'a> {
    func: &'a PrimFunc,
    out: String,
}

fn shape_str(shape: &[i64]) -> String {
    if shape.len() == 1 {
        format!("({},)", shape[0])
    } else {
        format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
    }
}

fn ann_str(a: &Annotations) -> String {
    let items: Vec<String> = a
        .iter()
        .map(|(k, v)| match v {
            AnnValue::Int(i) => format!("{k:?}: {i}"),
            AnnValue::Str(s) => format!("{k:?}: {s:?}"),
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}

impl Printer<'_> {
    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str("    ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn region(&self, r: &Region) -> String {
        let buf = self.func.buffer(&r.buffer);
        let parts: Vec<String> = r
            .ranges
            .iter()
            .enumerate()
            .map(|(d, (min, ext))| {
                if *ext == 1 {
                    expr_to_string(min)
                } else if *ext < 0 {
                    format!("0:{}", buf.map_or(0, |b| b.shape[d]))
                } else {
                    let end = super::arith::simplify(&(min.clone() + *ext));
                    format!("{}:{}", expr_to_string(min), expr_to_string(&end))
                }
            })
            .collect();
        format!("{}[{}]", r.buffer, parts.join(", "))
    }

    fn store(&mut self, depth: usize, s: &Store) {
        let idx: Vec<String> = s.indices.iter().map(expr_to_string).collect();
        self.line(depth, &format!("{}[{}] = {}", s.buffer, idx.join(", "), expr_to_string(&s.value)));
    }

    fn stmt(&mut self, depth: usize, s: &Stmt) {
        match s {
            Stmt::Seq(v) => v.iter().for_each(|c| self.stmt(depth, c)),
            Stmt::For(f) => self.for_loop(depth, f),
            Stmt::Block(br) => self.block(depth, br),
        }
    }

    fn is_grid_loop(f: &For) -> bool {
        f.kind == ForKind::Serial && f.annotations.is_empty()
    }

    fn for_loop(&mut self, depth: usize, f: &For) {
        if Self::is_grid_loop(f) {
            // Merge perfectly nested plain loops into T.grid, as TVM prints them.
            let mut vars = vec![f.var.name().to_string()];
            let mut exts = vec![f.extent.to_string()];
            let mut cur = f;
            while let Stmt::For(inner) = &cur.body {
                if !Self::is_grid_loop(inner) {
                    break;
                }
                vars.push(inner.var.name().to_string());
                exts.push(inner.extent.to_string());
                cur = inner;
            }
            if vars.len() == 1 {
                self.line(depth, &format!("for {} in range({}):", vars[0], exts[0]));
            } else {
                self.line(depth, &format!("for {} in T.grid({}):", vars.join(", "), exts.join(", ")));
            }
            self.stmt(depth + 1, &cur.body);
            return;
        }
        let kind = match f.kind {
            ForKind::Serial => "serial",
            k => k.tvm_name(),
        };
        let ann =
            if f.annotations.is_empty() { String::new() } else { format!(", annotations={}", ann_str(&f.annotations)) };
        self.line(depth, &format!("for {} in T.{}({}{}):", f.var, kind, f.extent, ann));
        self.stmt(depth + 1, &f.body);
    }

    fn block(&mut self, depth: usize, br: &BlockRealize) {
        let b = &br.block;
        self.line(depth, &format!("with T.block(\"{}\"):", b.name));
        let d = depth + 1;
        let all_vars = !b.iter_vars.is_empty() && br.bindings.iter().all(|e| matches!(e, Expr::Var(_))) && {
            let mut vs: Vec<_> = br.bindings.iter().map(expr_to_string).collect();
            vs.sort();
            vs.dedup();
            vs.len() == br.bindings.len()
        };
        if all_vars {
            let names: Vec<&str> = b.iter_vars.iter().map(|iv| iv.var.name()).collect();
            let kinds: String = b.iter_vars.iter().map(|iv| iv.kind.letter()).collect();
            let binds: Vec<String> = br.bindings.iter().map(expr_to_string).collect();
            let lhs = if names.len() == 1 { names[0].to_string() } else { names.join(", ") };
            self.line(d, &format!("{} = T.axis.remap(\"{}\", [{}])", lhs, kinds, binds.join(", ")));
        } else {
            for (iv, bind) in b.iter_vars.iter().zip(&br.bindings) {
                let kind = if iv.kind == IterKind::Spatial { "spatial" } else { "reduce" };
                self.line(d, &format!("{} = T.axis.{}({}, {})", iv.var, kind, iv.extent, expr_to_string(bind)));
            }
        }
        if !br.predicate.is_true() {
            self.line(d, &format!("T.where({})", expr_to_string(&br.predicate)));
        }
        let reads: Vec<String> = block_reads(b).iter().map(|r| self.region(r)).collect();
        let writes: Vec<String> = block_writes(b).iter().map(|r| self.region(r)).collect();
        self.line(d, &format!("T.reads({})", reads.join(", ")));
        self.line(d, &format!("T.writes({})", writes.join(", ")));
        if !b.annotations.is_empty() {
            self.line(d, &format!("T.block_attr({})", ann_str(&b.annotations)));
        }
        if let Some(init) = &b.init {
            self.line(d, "with T.init():");
            self.store(d + 1, init);
        }
        self.store(d, &b.body);
    }

    fn buffer_decl(b: &Buffer) -> String {
        let dtype = if b.dtype == DataType::F32 { String::new() } else { format!(", \"{}\"", b.dtype.tvm_name()) };
        let scope = if b.scope == Scope::Global { String::new() } else { format!(", scope=\"{}\"", b.scope.name()) };
        format!("{} = T.alloc_buffer({}{}{})", b.name, shape_str(&b.shape), dtype, scope)
    }
}

/// Prints a function as TVMScript-like text.
pub fn func_to_string(func: &PrimFunc) -> String {
    let mut p = Printer { func, out: String::new() };
    p.line(0, "# from tvm.script import tir as T");
    p.line(0, "");
    p.line(0, "@T.prim_func");
    let params: Vec<String> = func
        .params
        .iter()
        .map(|pa| {
            let shape = match func.sym_dim_of(&pa.buffer.name) {
                // The symbolic first dimension by name (TVMScript's `T.int64()` variables).
                Some(d) => {
                    let rest: Vec<String> = pa.buffer.shape[1..].iter().map(|x| x.to_string()).collect();
                    format!("({}{})", d.name, rest.iter().map(|r| format!(", {r}")).collect::<String>())
                }
                None => shape_str(&pa.buffer.shape),
            };
            format!("{}: T.Buffer({}, \"{}\")", pa.buffer.name, shape, pa.buffer.dtype.tvm_name())
        })
        .collect();
    p.line(0, &format!("def {}({}):", func.name, params.join(", ")));
    for d in &func.dims {
        let tune: Vec<String> = d.tune.iter().map(|t| t.to_string()).collect();
        p.line(
            1,
            &format!(
                "{} = T.int64()  # in {}..={}, tuned at {}; the body below is its instance at {} = {}",
                d.name,
                d.min,
                d.max,
                tune.join(", "),
                d.name,
                d.value
            ),
        );
    }
    // (Only a `#[fast_math]` kernel prints its flag: other kernels keep their
    // workload hashes.)
    let fast = if func.fast_math { ", \"kiln.fast_math\": T.bool(True)" } else { "" };
    p.line(1, &format!("T.func_attr({{\"tir.noalias\": T.bool(True){fast}}})"));
    p.line(1, "# with T.block(\"root\"):");
    for b in &func.allocs {
        p.line(1, &Printer::buffer_decl(b));
    }
    p.stmt(1, &func.body);
    p.out
}

impl std::fmt::Display for PrimFunc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&func_to_string(self))
    }
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&expr_to_string(self))
    }
}
