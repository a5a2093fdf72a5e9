//! Expression syntax: a precedence-climbing parser on a `ParseStream` into a
//! small surface tree that keeps the spans of every node (`syn::Expr` cannot
//! parse `a[i, j]`). Names, types and bounds are checked later, in `lower.rs`.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{token, Ident, Token};

use super::limits::MAX_DEPTH;
use super::Sp;
use crate::ir::DataType;

/// Binary operators of the surface language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SBin {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl SBin {
    /// Binding strength, loosest first (Rust's order).
    fn prec(self) -> u8 {
        match self {
            SBin::Or => 1,
            SBin::And => 2,
            SBin::Lt | SBin::Le | SBin::Gt | SBin::Ge | SBin::Eq | SBin::Ne => 3,
            SBin::Add | SBin::Sub => 4,
            SBin::Mul | SBin::Div | SBin::Rem => 5,
        }
    }

    pub fn is_compare(self) -> bool {
        self.prec() == 3
    }

    pub fn is_logic(self) -> bool {
        matches!(self, SBin::And | SBin::Or)
    }

    pub fn symbol(self) -> &'static str {
        match self {
            SBin::Add => "+",
            SBin::Sub => "-",
            SBin::Mul => "*",
            SBin::Div => "/",
            SBin::Rem => "%",
            SBin::Lt => "<",
            SBin::Le => "<=",
            SBin::Gt => ">",
            SBin::Ge => ">=",
            SBin::Eq => "==",
            SBin::Ne => "!=",
            SBin::And => "&&",
            SBin::Or => "||",
        }
    }
}

/// A surface expression with the span of its tokens.
#[derive(Clone, Debug)]
pub(crate) struct SExpr {
    pub kind: SKind,
    pub sp: Sp,
    /// Height of the tree (bounded by `MAX_DEPTH`, so later passes may recurse).
    pub depth: u32,
}

#[derive(Clone, Debug)]
pub(crate) enum SKind {
    /// A name: a block axis (or, in an axis binding, a loop variable).
    Ident(Ident),
    /// `buf[i, j]`.
    Index(Ident, Vec<SExpr>),
    /// An integer literal with its suffix type (`1`, `2i32`).
    Int(i64, Option<DataType>),
    /// A float literal: its digits and suffix type (`1.5`, `0f32`).
    Float(String, Option<DataType>),
    Bool(bool),
    /// `f32::INFINITY` and friends: the type and the value.
    Const(DataType, f64),
    Neg(Box<SExpr>),
    Not(Box<SExpr>),
    /// An operator with the span of its token.
    Binary(SBin, Sp, Box<SExpr>, Box<SExpr>),
    /// `max(a, b)`, `f32::max(a, b)` (`ty`), or the method form `a.max(b)`
    /// (`method`; the receiver is `args[0]`).
    Call {
        name: Ident,
        args: Vec<SExpr>,
        method: bool,
        ty: Option<DataType>,
    },
    /// `if c { a } else { b }` and `select(c, a, b)`.
    If(Box<SExpr>, Box<SExpr>, Box<SExpr>),
    /// `x as f32`.
    Cast(Box<SExpr>, DataType),
}

impl SExpr {
    fn new(kind: SKind, sp: Sp) -> syn::Result<SExpr> {
        let child = match &kind {
            SKind::Index(_, args) | SKind::Call { args, .. } => args.iter().map(|a| a.depth).max().unwrap_or(0),
            SKind::Neg(a) | SKind::Not(a) | SKind::Cast(a, _) => a.depth,
            SKind::Binary(_, _, a, b) => a.depth.max(b.depth),
            SKind::If(c, t, f) => c.depth.max(t.depth).max(f.depth),
            _ => 0,
        };
        if child >= MAX_DEPTH {
            return Err(syn::Error::new_spanned(sp, too_deep()));
        }
        Ok(SExpr { kind, sp, depth: child + 1 })
    }

    /// Whether the name `id` occurs in it (as a name, not as a buffer).
    pub fn mentions(&self, id: &Ident) -> bool {
        match &self.kind {
            SKind::Ident(x) => x == id,
            SKind::Index(_, args) | SKind::Call { args, .. } => args.iter().any(|a| a.mentions(id)),
            SKind::Neg(a) | SKind::Not(a) | SKind::Cast(a, _) => a.mentions(id),
            SKind::Binary(_, _, a, b) => a.mentions(id) || b.mentions(id),
            SKind::If(c, t, f) => c.mentions(id) || t.mentions(id) || f.mentions(id),
            _ => false,
        }
    }

    /// The integer literal this expression is, if it is one.
    pub fn as_int(&self) -> Option<i64> {
        match self.kind {
            SKind::Int(v, None) => Some(v),
            _ => None,
        }
    }
}

fn too_deep() -> String {
    format!("expression nested too deeply (more than {MAX_DEPTH} levels)")
}

/// The element type named by a literal suffix or a cast (`f32`, `f64`, `i32`).
pub(crate) fn dtype_of(name: &str) -> Option<DataType> {
    DataType::from_rust(name)
}

/// Parses one expression; stops before a token that cannot continue it
/// (`;`, `,`, `{`, `..`, `=`, the end).
pub(crate) fn parse_expr(input: ParseStream) -> syn::Result<SExpr> {
    binary(input, 0, 0)
}

fn deeper(input: ParseStream, depth: u32) -> syn::Result<u32> {
    if depth >= MAX_DEPTH {
        return Err(input.error(too_deep()));
    }
    Ok(depth + 1)
}

/// The binary operator at the front of `input`, if any. Assignment operators
/// (`+=`, ..) and `=` end the expression; bitwise operators are errors.
fn peek_op(input: ParseStream) -> syn::Result<Option<SBin>> {
    if input.peek(Token![+=])
        || input.peek(Token![-=])
        || input.peek(Token![*=])
        || input.peek(Token![/=])
        || input.peek(Token![%=])
    {
        return Ok(None);
    }
    if input.peek(Token![<<]) || input.peek(Token![>>]) {
        return Err(input.error("shift operators are not supported"));
    }
    let op = if input.peek(Token![||]) {
        SBin::Or
    } else if input.peek(Token![&&]) {
        SBin::And
    } else if input.peek(Token![==]) {
        SBin::Eq
    } else if input.peek(Token![!=]) {
        SBin::Ne
    } else if input.peek(Token![<=]) {
        SBin::Le
    } else if input.peek(Token![>=]) {
        SBin::Ge
    } else if input.peek(Token![<]) {
        SBin::Lt
    } else if input.peek(Token![>]) {
        SBin::Gt
    } else if input.peek(Token![+]) {
        SBin::Add
    } else if input.peek(Token![-]) {
        SBin::Sub
    } else if input.peek(Token![*]) {
        SBin::Mul
    } else if input.peek(Token![/]) {
        SBin::Div
    } else if input.peek(Token![%]) {
        SBin::Rem
    } else if input.peek(Token![&]) || input.peek(Token![|]) || input.peek(Token![^]) {
        return Err(input.error("bitwise operators are not supported; use `&&` and `||` on conditions"));
    } else {
        return Ok(None);
    };
    Ok(Some(op))
}

/// Consumes the operator `op` and returns its span.
fn take_op(input: ParseStream, op: SBin) -> syn::Result<Sp> {
    Ok(match op {
        SBin::Or => Sp::from(input.parse::<Token![||]>()?.span()),
        SBin::And => Sp::from(input.parse::<Token![&&]>()?.span()),
        SBin::Eq => Sp::from(input.parse::<Token![==]>()?.span()),
        SBin::Ne => Sp::from(input.parse::<Token![!=]>()?.span()),
        SBin::Le => Sp::from(input.parse::<Token![<=]>()?.span()),
        SBin::Ge => Sp::from(input.parse::<Token![>=]>()?.span()),
        SBin::Lt => Sp::from(input.parse::<Token![<]>()?.span),
        SBin::Gt => Sp::from(input.parse::<Token![>]>()?.span),
        SBin::Add => Sp::from(input.parse::<Token![+]>()?.span),
        SBin::Sub => Sp::from(input.parse::<Token![-]>()?.span),
        SBin::Mul => Sp::from(input.parse::<Token![*]>()?.span),
        SBin::Div => Sp::from(input.parse::<Token![/]>()?.span),
        SBin::Rem => Sp::from(input.parse::<Token![%]>()?.span),
    })
}

/// Precedence climbing: operators binding at least as tight as `min_prec`.
fn binary(input: ParseStream, min_prec: u8, depth: u32) -> syn::Result<SExpr> {
    let depth = deeper(input, depth)?;
    let mut lhs = cast(input, depth)?;
    let mut chained_cmp = false;
    while let Some(op) = peek_op(input)? {
        if op.prec() < min_prec {
            break;
        }
        let op_sp = take_op(input, op)?;
        if op.is_compare() && chained_cmp {
            return Err(syn::Error::new_spanned(op_sp, "comparison operators cannot be chained; use `&&`"));
        }
        chained_cmp = op.is_compare();
        let rhs = binary(input, op.prec() + 1, depth)?;
        let sp = lhs.sp.to(rhs.sp);
        lhs = SExpr::new(SKind::Binary(op, op_sp, Box::new(lhs), Box::new(rhs)), sp)?;
    }
    Ok(lhs)
}

/// `unary ('as' dtype)*`
fn cast(input: ParseStream, depth: u32) -> syn::Result<SExpr> {
    let mut e = unary(input, depth)?;
    while input.peek(Token![as]) {
        input.parse::<Token![as]>()?;
        let ty = Ident::parse_any(input)?;
        let Some(t) = dtype_of(&ty.to_string()) else {
            return Err(syn::Error::new(ty.span(), format!("cannot cast to `{ty}`: casts convert to f32, f64 or i32")));
        };
        let sp = e.sp.to(ty.span().into());
        e = SExpr::new(SKind::Cast(Box::new(e), t), sp)?;
    }
    Ok(e)
}

fn unary(input: ParseStream, depth: u32) -> syn::Result<SExpr> {
    let depth = deeper(input, depth)?;
    if input.peek(Token![-]) && !input.peek(Token![-=]) {
        let minus = input.parse::<Token![-]>()?;
        let a = unary(input, depth)?;
        let sp = Sp::from(minus.span).to(a.sp);
        return SExpr::new(SKind::Neg(Box::new(a)), sp);
    }
    if input.peek(Token![!]) && !input.peek(Token![!=]) {
        let bang = input.parse::<Token![!]>()?;
        let a = unary(input, depth)?;
        let sp = Sp::from(bang.span).to(a.sp);
        return SExpr::new(SKind::Not(Box::new(a)), sp);
    }
    if input.peek(Token![&]) || input.peek(Token![*]) {
        return Err(input.error("references and dereferences are not supported"));
    }
    postfix(input, depth)
}

/// `primary ('.' METHOD '(' args ')')*`
fn postfix(input: ParseStream, depth: u32) -> syn::Result<SExpr> {
    let mut e = primary(input, depth)?;
    loop {
        if input.peek(Token![.]) && !input.peek(Token![..]) {
            input.parse::<Token![.]>()?;
            if !input.peek(Ident::peek_any) {
                return Err(input.error("expected a method name (max, min, exp, ln, sqrt, rsqrt, tanh, sigmoid, abs)"));
            }
            let name = Ident::parse_any(input)?;
            if !input.peek(token::Paren) {
                return Err(syn::Error::new(
                    name.span(),
                    format!("fields are not supported; to call the method write `.{name}(..)`"),
                ));
            }
            let (mut args, close) = call_args(input, depth)?;
            args.insert(0, e.clone());
            let sp = e.sp.to(close.into());
            e = SExpr::new(SKind::Call { name, args, method: true, ty: None }, sp)?;
        } else if input.peek(token::Bracket) {
            return Err(syn::Error::new_spanned(e.sp, "only buffers can be indexed: `buf[i, j]`"));
        } else {
            return Ok(e);
        }
    }
}

/// `'(' expr (',' expr)* ','? ')'`: the arguments and the closing span.
fn call_args(input: ParseStream, depth: u32) -> syn::Result<(Vec<SExpr>, Span)> {
    let content;
    let paren = syn::parenthesized!(content in input);
    let args = list(&content, depth)?;
    Ok((args, paren.span.close()))
}

/// A comma-separated list of expressions filling `content` (indices, call
/// arguments); a trailing comma is allowed.
pub(crate) fn parse_expr_list(content: ParseStream) -> syn::Result<Vec<SExpr>> {
    list(content, 0)
}

/// A comma-separated list of expressions filling `content`.
fn list(content: ParseStream, depth: u32) -> syn::Result<Vec<SExpr>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        out.push(binary(content, 0, depth)?);
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(out)
}

fn primary(input: ParseStream, depth: u32) -> syn::Result<SExpr> {
    if input.peek(syn::Lit) {
        return literal(input);
    }
    if input.peek(token::Paren) {
        let content;
        let paren = syn::parenthesized!(content in input);
        if content.is_empty() {
            return Err(syn::Error::new(paren.span.join(), "expected an expression inside the parentheses"));
        }
        let mut e = binary(&content, 0, depth)?;
        if content.peek(Token![,]) {
            return Err(content.error("tuples are not supported"));
        }
        if !content.is_empty() {
            return Err(content.error("expected `)`"));
        }
        e.sp = Sp::new(paren.span.open(), paren.span.close());
        return Ok(e);
    }
    if input.peek(Token![if]) {
        return if_expr(input, depth);
    }
    if input.peek(token::Brace) {
        return Err(input.error("block expressions are not supported; use `if c { a } else { b }` or parentheses"));
    }
    if !input.peek(Ident) {
        return Err(input.error("expected an expression"));
    }
    let name: Ident = input.parse()?;
    if input.peek(Token![::]) {
        return path(input, name, depth);
    }
    if input.peek(token::Bracket) {
        let content;
        let bracket = syn::bracketed!(content in input);
        let indices = list(&content, depth)?;
        let sp = Sp::new(name.span(), bracket.span.close());
        return SExpr::new(SKind::Index(name, indices), sp);
    }
    if input.peek(token::Paren) {
        let (args, close) = call_args(input, depth)?;
        let sp = Sp::new(name.span(), close);
        return SExpr::new(SKind::Call { name, args, method: false, ty: None }, sp);
    }
    SExpr::new(SKind::Ident(name.clone()), name.span().into())
}

/// `f32::INFINITY`, `f32::max(a, b)`, ...
fn path(input: ParseStream, first: Ident, depth: u32) -> syn::Result<SExpr> {
    let mut segs = vec![first];
    while input.peek(Token![::]) {
        input.parse::<Token![::]>()?;
        segs.push(Ident::parse_any(input)?);
    }
    let sp = Sp::new(segs[0].span(), segs[segs.len() - 1].span());
    let text = segs.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("::");
    let ty = dtype_of(&segs[0].to_string());
    if let (Some(ty), 2) = (ty, segs.len()) {
        let item = segs[1].to_string();
        if input.peek(token::Paren) {
            let (args, close) = call_args(input, depth)?;
            let sp = Sp::new(segs[0].span(), close);
            let name = segs.pop().unwrap_or_else(|| Ident::new("_", sp.start));
            return SExpr::new(SKind::Call { name, args, method: false, ty: Some(ty) }, sp);
        }
        let value = match (ty, item.as_str()) {
            (DataType::F32, "INFINITY") | (DataType::F64, "INFINITY") => Some(f64::INFINITY),
            (DataType::F32, "NEG_INFINITY") | (DataType::F64, "NEG_INFINITY") => Some(f64::NEG_INFINITY),
            (DataType::F32, "MAX") => Some(f32::MAX as f64),
            (DataType::F32, "MIN") => Some(f32::MIN as f64),
            (DataType::F32, "EPSILON") => Some(f32::EPSILON as f64),
            (DataType::F64, "MAX") => Some(f64::MAX),
            (DataType::F64, "MIN") => Some(f64::MIN),
            (DataType::F64, "EPSILON") => Some(f64::EPSILON),
            (DataType::I32, "MAX") => Some(i32::MAX as f64),
            (DataType::I32, "MIN") => Some(i32::MIN as f64),
            _ => None,
        };
        if let Some(v) = value {
            return SExpr::new(SKind::Const(ty, v), sp);
        }
    }
    Err(syn::Error::new_spanned(
        sp,
        format!("unknown constant `{text}`; the constants are `f32::`/`f64::` INFINITY, NEG_INFINITY, MAX, MIN, EPSILON and `i32::` MAX, MIN"),
    ))
}

/// `'if' expr '{' expr '}' 'else' ('{' expr '}' | if-expr)`
fn if_expr(input: ParseStream, depth: u32) -> syn::Result<SExpr> {
    let depth = deeper(input, depth)?;
    let if_tok = input.parse::<Token![if]>()?;
    let cond = binary(input, 0, depth)?;
    let then = braced_expr(input, depth)?;
    if !input.peek(Token![else]) {
        return Err(syn::Error::new_spanned(
            Sp::new(if_tok.span, then.1),
            "`if` without `else` has no value; add an `else` branch",
        ));
    }
    input.parse::<Token![else]>()?;
    let (other, end) = if input.peek(Token![if]) {
        let e = if_expr(input, depth)?;
        let end = e.sp.end;
        (e, end)
    } else {
        braced_expr(input, depth)?
    };
    let sp = Sp::new(if_tok.span, end);
    SExpr::new(SKind::If(Box::new(cond), Box::new(then.0), Box::new(other)), sp)
}

/// `'{' expr '}'`: the expression and the closing brace's span.
fn braced_expr(input: ParseStream, depth: u32) -> syn::Result<(SExpr, Span)> {
    let content;
    let brace = syn::braced!(content in input);
    if content.is_empty() {
        return Err(syn::Error::new(brace.span.join(), "expected an expression inside the braces"));
    }
    let e = binary(&content, 0, depth)?;
    if !content.is_empty() {
        return Err(content.error("expected `}`: an `if` branch holds one expression"));
    }
    Ok((e, brace.span.close()))
}

fn literal(input: ParseStream) -> syn::Result<SExpr> {
    let lit: syn::Lit = input.parse()?;
    let sp = Sp::from(lit.span());
    let suffix = |s: &str, span: Span| -> syn::Result<Option<DataType>> {
        if s.is_empty() {
            return Ok(None);
        }
        match dtype_of(s) {
            Some(t) => Ok(Some(t)),
            None => Err(syn::Error::new(span, format!("unsupported literal suffix `{s}`; use f32, f64 or i32"))),
        }
    };
    let kind = match &lit {
        syn::Lit::Int(l) => {
            let ty = suffix(l.suffix(), l.span())?;
            match ty {
                Some(t) if t.is_float() => SKind::Float(l.base10_digits().to_string(), ty),
                _ => SKind::Int(
                    l.base10_parse::<i64>().map_err(|_| syn::Error::new(l.span(), "integer literal is too large"))?,
                    ty,
                ),
            }
        }
        syn::Lit::Float(l) => {
            let ty = suffix(l.suffix(), l.span())?;
            if ty == Some(DataType::I32) {
                return Err(syn::Error::new(l.span(), "a float literal cannot have the suffix `i32`"));
            }
            SKind::Float(l.base10_digits().to_string(), ty)
        }
        syn::Lit::Bool(b) => SKind::Bool(b.value),
        syn::Lit::Str(_) => return Err(syn::Error::new(lit.span(), "string literals are not expressions")),
        _ => return Err(syn::Error::new(lit.span(), "unsupported literal; expected a number or `true`/`false`")),
    };
    SExpr::new(kind, sp)
}
