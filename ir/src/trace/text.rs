//! The trace text form, exactly the chapter's:
//!
//! ```text
//! b0 = sch.get_block(name="C", func_name="main")
//! l1, l2, l3 = sch.get_loops(block=b0)
//! v4, v5 = sch.sample_perfect_tile(loop=l2, n=2, max_innermost_factor=16, decision=[32, 4])
//! l6, l7 = sch.split(loop=l2, factors=[v4, v5], preserve_unit_iters=True)
//! sch.reorder(l1, l6, l3, l7)
//! b8 = sch.decompose_reduction(block=b0, loop=l3)
//! ```
//!
//! The parser reads Rust tokens (`proc_macro2`), so the same code parses a
//! trace from a string and from the macro's `schedule { ... }` section, with
//! spans for errors. Because `//` starts a Rust comment, index maps print
//! floor division as `T.floordiv(a, b)` and floor modulo as `a % b`.

use std::fmt::Write;

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};

use super::{Arg, Decision, IndexMapArg, InstKind, Instruction, Rv, RvKind, Trace};

pub(super) fn print_arg(out: &mut String, a: &Arg) {
    match a {
        Arg::Rv(r) => write!(out, "{r}").unwrap(),
        Arg::Int(v) => write!(out, "{v}").unwrap(),
        Arg::Float(v) => write!(out, "{v:?}").unwrap(),
        Arg::Str(s) => write!(out, "{s:?}").unwrap(),
        Arg::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Arg::None => out.push_str("None"),
        Arg::List(v) | Arg::Tuple(v) => {
            let (open, close) = if matches!(a, Arg::List(_)) { ('[', ']') } else { ('(', ')') };
            out.push(open);
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_arg(out, x);
            }
            if matches!(a, Arg::Tuple(_)) && v.len() == 1 {
                out.push(',');
            }
            out.push(close);
        }
        Arg::IndexMap(m) => {
            write!(out, "lambda {}: ({}", m.params.join(", "), m.results.join(", ")).unwrap();
            if m.results.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
    }
}

/// Prints one instruction as a line of the text form (no newline).
pub fn print_inst(inst: &Instruction) -> String {
    let mut out = String::new();
    if !inst.outputs.is_empty() {
        let outs: Vec<String> = inst.outputs.iter().map(|r| r.to_string()).collect();
        write!(out, "{} = ", outs.join(", ")).unwrap();
    }
    write!(out, "sch.{}(", inst.kind.name()).unwrap();
    let mut first = true;
    for (name, a) in &inst.args {
        if !first {
            out.push_str(", ");
        }
        first = false;
        if !name.is_empty() {
            write!(out, "{name}=").unwrap();
        }
        print_arg(&mut out, a);
    }
    if let Some(d) = &inst.decision {
        if !first {
            out.push_str(", ");
        }
        out.push_str("decision=");
        match d {
            Decision::Int(v) => write!(out, "{v}").unwrap(),
            Decision::Ints(v) => {
                let s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                write!(out, "[{}]", s.join(", ")).unwrap();
            }
        }
    }
    out.push(')');
    out
}

/// Prints a trace, one instruction per line.
pub fn print_trace(t: &Trace) -> String {
    let mut out = String::new();
    for i in &t.insts {
        out.push_str(&print_inst(i));
        out.push('\n');
    }
    out
}

/// A syntax error in a trace, with the span of the offending tokens.
#[derive(Clone, Debug)]
pub struct TraceParseError {
    pub message: String,
    pub span: Span,
}

impl std::fmt::Display for TraceParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let start = self.span.start();
        if start.line > 0 {
            write!(f, "line {}:{}: {}", start.line, start.column + 1, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for TraceParseError {}

fn err<T>(span: Span, message: impl Into<String>) -> Result<T, TraceParseError> {
    Err(TraceParseError { message: message.into(), span })
}

struct Cursor {
    toks: Vec<TokenTree>,
    pos: usize,
    end_span: Span,
}

impl Cursor {
    fn new(ts: TokenStream, end_span: Span) -> Cursor {
        Cursor { toks: ts.into_iter().collect(), pos: 0, end_span }
    }

    fn peek(&self) -> Option<&TokenTree> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, k: usize) -> Option<&TokenTree> {
        self.toks.get(self.pos + k)
    }

    fn span(&self) -> Span {
        self.peek().map_or(self.end_span, |t| t.span())
    }

    fn next(&mut self) -> Option<TokenTree> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn is_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(TokenTree::Punct(p)) if p.as_char() == c)
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.is_punct(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char, what: &str) -> Result<(), TraceParseError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            err(self.span(), format!("expected `{c}` {what}"))
        }
    }

    fn ident(&mut self, what: &str) -> Result<(String, Span), TraceParseError> {
        match self.next() {
            Some(TokenTree::Ident(i)) => Ok((i.to_string(), i.span())),
            Some(t) => err(t.span(), format!("expected {what}, found `{t}`")),
            None => err(self.end_span, format!("expected {what}, found the end of the schedule")),
        }
    }
}

fn parse_rv_name(name: &str, span: Span) -> Result<Rv, TraceParseError> {
    let mut chars = name.chars();
    let kind = chars.next().and_then(RvKind::from_prefix);
    let id = chars.as_str().parse::<u32>().ok();
    match (kind, id) {
        (Some(kind), Some(id)) => Ok(Rv { id, kind }),
        _ => err(span, format!("`{name}` is not a handle name (b<N>, l<N> or v<N>)")),
    }
}

fn parse_literal(lit: &proc_macro2::Literal) -> Result<Arg, TraceParseError> {
    let s = lit.to_string();
    if s.starts_with('"') {
        let v: syn::LitStr =
            syn::parse_str(&s).map_err(|_| TraceParseError { message: "bad string".into(), span: lit.span() })?;
        return Ok(Arg::Str(v.value()));
    }
    if let Ok(v) = s.parse::<i64>() {
        return Ok(Arg::Int(v));
    }
    if let Ok(v) = s.parse::<f64>() {
        return Ok(Arg::Float(v));
    }
    err(lit.span(), format!("unexpected literal `{s}`"))
}

fn split_commas(ts: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut out = vec![vec![]];
    for t in ts {
        match &t {
            TokenTree::Punct(p) if p.as_char() == ',' => out.push(vec![]),
            _ => out.last_mut().unwrap().push(t),
        }
    }
    if out.last().is_some_and(|v| v.is_empty()) {
        out.pop();
    }
    out
}

/// Re-joins the parameters of a `lambda i, j: (...)` argument, which
/// [`split_commas`] cut apart at the commas between them.
fn join_lambda_params(parts: Vec<Vec<TokenTree>>) -> Vec<Vec<TokenTree>> {
    let is_colon = |t: &TokenTree| matches!(t, TokenTree::Punct(p) if p.as_char() == ':');
    let mut out: Vec<Vec<TokenTree>> = Vec::new();
    let mut open = false;
    for part in parts {
        if open {
            let last = out.last_mut().unwrap();
            last.push(TokenTree::Punct(proc_macro2::Punct::new(',', proc_macro2::Spacing::Alone)));
            open = !part.iter().any(is_colon);
            last.extend(part);
            continue;
        }
        let lambda_at = part.iter().position(|t| matches!(t, TokenTree::Ident(i) if i == "lambda"));
        open = lambda_at.is_some_and(|k| !part[k..].iter().any(is_colon));
        out.push(part);
    }
    out
}

fn parse_value(c: &mut Cursor) -> Result<Arg, TraceParseError> {
    let span = c.span();
    match c.next() {
        Some(TokenTree::Ident(i)) => {
            let s = i.to_string();
            match s.as_str() {
                "True" => Ok(Arg::Bool(true)),
                "False" => Ok(Arg::Bool(false)),
                "None" => Ok(Arg::None),
                "lambda" => parse_lambda(c),
                _ => parse_rv_name(&s, i.span()).map(Arg::Rv),
            }
        }
        Some(TokenTree::Literal(l)) => parse_literal(&l),
        Some(TokenTree::Punct(p)) if p.as_char() == '-' => match c.next() {
            Some(TokenTree::Literal(l)) => match parse_literal(&l)? {
                Arg::Int(v) => Ok(Arg::Int(-v)),
                Arg::Float(v) => Ok(Arg::Float(-v)),
                _ => err(l.span(), "expected a number after `-`"),
            },
            _ => err(span, "expected a number after `-`"),
        },
        Some(TokenTree::Group(g)) if matches!(g.delimiter(), Delimiter::Bracket | Delimiter::Parenthesis) => {
            let mut items = Vec::new();
            for part in split_commas(g.stream()) {
                let mut sub = Cursor::new(part.into_iter().collect(), g.span_close());
                items.push(parse_value(&mut sub)?);
                if !sub.at_end() {
                    return err(sub.span(), "unexpected tokens in a list");
                }
            }
            Ok(if g.delimiter() == Delimiter::Bracket { Arg::List(items) } else { Arg::Tuple(items) })
        }
        Some(t) => err(t.span(), format!("unexpected `{t}`")),
        None => err(span, "expected a value"),
    }
}

/// `lambda i, j: (expr, expr)`; the results are kept as canonical text.
fn parse_lambda(c: &mut Cursor) -> Result<Arg, TraceParseError> {
    let mut params = Vec::new();
    loop {
        let (p, _) = c.ident("a lambda parameter")?;
        params.push(p);
        if c.eat_punct(':') {
            break;
        }
        c.expect_punct(',', "or `:` after a lambda parameter")?;
    }
    let results = match c.next() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
            let mut out = Vec::new();
            for part in split_commas(g.stream()) {
                let e = super::index_expr::parse_index_expr_tokens(&part, &params)
                    .map_err(|(m, s)| TraceParseError { message: m, span: s.unwrap_or(g.span()) })?;
                out.push(super::index_expr::index_expr_text(&e));
            }
            out
        }
        Some(t) => return err(t.span(), "expected `(...)` after `lambda ...:`"),
        None => return err(c.end_span, "expected `(...)` after `lambda ...:`"),
    };
    Ok(Arg::IndexMap(IndexMapArg { params, results }))
}

fn parse_decision(a: Arg, span: Span) -> Result<Decision, TraceParseError> {
    match a {
        Arg::Int(v) => Ok(Decision::Int(v)),
        Arg::List(v) => v
            .iter()
            .map(|x| x.as_int().ok_or(()))
            .collect::<Result<Vec<_>, _>>()
            .map(Decision::Ints)
            .or_else(|_| err(span, "a decision is an integer or a list of integers")),
        _ => err(span, "a decision is an integer or a list of integers"),
    }
}

/// Parses a trace from Rust tokens; returns the trace and, for each
/// instruction, the spans of its first and last tokens (what an error about
/// the instruction points at).
pub fn parse_trace(ts: TokenStream) -> Result<(Trace, Vec<(Span, Span)>), TraceParseError> {
    let mut c = Cursor::new(ts, Span::call_site());
    let mut trace = Trace::default();
    let mut spans = Vec::new();
    while !c.at_end() {
        if c.eat_punct(';') {
            continue;
        }
        let start = c.span();
        let mut outputs = Vec::new();
        // Outputs: `b0 =` or `l1, l2 =`, unless the statement starts with `sch.`.
        let starts_with_sch = matches!(c.peek(), Some(TokenTree::Ident(i)) if i == "sch")
            && matches!(c.peek_at(1), Some(TokenTree::Punct(p)) if p.as_char() == '.');
        if !starts_with_sch {
            loop {
                let (name, span) = c.ident("a handle name or `sch`")?;
                outputs.push(parse_rv_name(&name, span)?);
                if c.eat_punct('=') {
                    break;
                }
                c.expect_punct(',', "or `=` after an output handle")?;
            }
        }
        let (sch, span) = c.ident("`sch`")?;
        if sch != "sch" {
            return err(span, format!("expected `sch.<primitive>(...)`, found `{sch}`"));
        }
        c.expect_punct('.', "after `sch`")?;
        let (method, mspan) = c.ident("a primitive name")?;
        let kind = InstKind::from_name(&method)
            .map_or_else(|| err(mspan, format!("unknown schedule primitive `{method}`")), Ok)?;
        let group = match c.next() {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => g,
            _ => return err(mspan, format!("expected `(...)` after `sch.{method}`")),
        };
        let mut inst = Instruction::new(kind);
        for part in join_lambda_params(split_commas(group.stream())) {
            let mut sub = Cursor::new(part.into_iter().collect(), group.span_close());
            let named = matches!(sub.peek(), Some(TokenTree::Ident(_)))
                && matches!(sub.peek_at(1), Some(TokenTree::Punct(p)) if p.as_char() == '=');
            let name = if named { sub.ident("an argument name")?.0 } else { String::new() };
            if named {
                sub.next();
            }
            let vspan = sub.span();
            let value = parse_value(&mut sub)?;
            if !sub.at_end() {
                return err(sub.span(), "unexpected tokens after an argument: separate arguments with `,`");
            }
            if name == "decision" {
                inst.decision = Some(parse_decision(value, vspan)?);
            } else {
                inst.args.push((name, value));
            }
        }
        for o in &mut outputs {
            if o.kind != kind.output_kind() {
                return err(start, format!("`sch.{method}` produces {:?} handles, not `{o}`", kind.output_kind()));
            }
        }
        inst.outputs = outputs;
        trace.insts.push(inst);
        spans.push((start, group.span_close()));
    }
    Ok((trace, spans))
}

/// Parses a trace from its text form.
pub fn parse_trace_str(text: &str) -> Result<Trace, TraceParseError> {
    let ts: TokenStream = text
        .parse()
        .map_err(|e: proc_macro2::LexError| TraceParseError { message: format!("not a trace: {e}"), span: e.span() })?;
    parse_trace(ts).map(|(t, _)| t)
}
