//! The kernel signature: attributes, visibility, name and tensor parameters,
//! and the `[dtype; d0, d1, ..]` tensor types shared with `alloc`.

use std::collections::BTreeMap;

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{token, Ident, Token};

use super::limits::{MAX_EXTENT, MAX_NUMEL};
use super::{Ctx, KernelSig, ParamSig, Sp};
use crate::ir::DataType;

/// A `[dtype; dims]` as written. `None` marks a part with an error (already
/// reported); uses of such a buffer are not checked further.
#[derive(Clone, Debug)]
pub(crate) struct TensorDecl {
    pub dtype: Option<DataType>,
    /// The shape; a symbolic first dimension holds its value once
    /// [`resolve`]d (1 before).
    pub shape: Option<Vec<i64>>,
    /// A symbolic first dimension (`[f32; n, 784]`): its name as written.
    pub sym: Option<Ident>,
}

/// A symbolic dimension as declared: `n: dim(1..=4096, tune = 64)`.
#[derive(Clone, Debug)]
pub(crate) struct DimDecl {
    pub name: Ident,
    pub min: i64,
    pub max: i64,
    pub tune: Vec<i64>,
    /// The value this parse instantiates it at.
    pub value: i64,
}

/// Gives a tensor's symbolic first dimension its value (an error when the
/// name is not declared).
pub(crate) fn resolve(t: &mut TensorDecl, dims: &[DimDecl], ctx: &mut Ctx) {
    let Some(id) = &t.sym else { return };
    match dims.iter().find(|d| d.name == *id) {
        Some(d) => {
            if let Some(s) = t.shape.as_mut() {
                s[0] = d.value;
            }
        }
        None => {
            ctx.err(
                id,
                format!(
                    "unknown dimension `{id}`: declare a symbolic dimension with its range and tune value, \
                     `where {id}: dim(1..=4096, tune = 64)`"
                ),
            );
            t.shape = None;
        }
    }
}

/// One parameter as written.
#[derive(Clone, Debug)]
pub(crate) struct ParamDecl {
    pub name: Ident,
    pub tensor: TensorDecl,
    pub output: bool,
    /// The declaration did not parse past the name.
    pub broken: bool,
}

/// The signature as written; `sig` is set when it has no error.
pub(crate) struct SigDecl {
    pub name: Ident,
    pub params: Vec<ParamDecl>,
    pub dims: Vec<DimDecl>,
    pub sig: Option<KernelSig>,
    /// Where `#[fast_math]` was written, if it was.
    pub fast_math: Option<Sp>,
}

/// From the first to the last token of `t` (`Spanned::span` is only the first
/// token's span on stable compilers).
fn tokens_sp(t: &impl quote::ToTokens) -> Option<Sp> {
    let mut spans = t.to_token_stream().into_iter().map(|tt| tt.span());
    let first = spans.next()?;
    Some(Sp::new(first, spans.last().unwrap_or(first)))
}

/// Skips tokens up to and including the next `,` (or to the end).
fn skip_past_comma(input: ParseStream) {
    let _ = input.step(|cursor| {
        let mut c = *cursor;
        while let Some((tt, next)) = c.token_tree() {
            c = next;
            if matches!(&tt, proc_macro2::TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
        }
        Ok(((), c))
    });
}

/// Parses `attrs vis fn name(params)`; an `Err` means the rest of the input
/// cannot be understood (no body can be found).
pub(crate) fn parse_sig(input: ParseStream, ctx: &mut Ctx, at: &BTreeMap<String, i64>) -> syn::Result<SigDecl> {
    let errors_before = ctx.count();
    let attrs = input.call(syn::Attribute::parse_outer)?;
    let (attrs, fast_math) = super::fast_math::take_attribute(attrs, ctx);
    let vis: syn::Visibility = input.parse()?;
    if !input.peek(Token![fn]) {
        return Err(input.error("expected `fn`: a `tensor_func!` holds one function, `fn name(params) { .. }`"));
    }
    input.parse::<Token![fn]>()?;
    let name: Ident = input.parse()?;
    if name.to_string().starts_with("r#") {
        ctx.err(&name, "raw identifiers are not supported");
    }
    if input.peek(Token![<]) {
        let generics: syn::Generics = input.parse()?;
        let at = tokens_sp(&generics).unwrap_or_else(|| generics.span().into());
        ctx.err(at, "tensor functions cannot be generic: shapes and types are static");
    }
    if !input.peek(token::Paren) {
        return Err(input.error("expected the parameter list `(a: [f32; 128], c: &mut [f32; 128])`"));
    }
    let content;
    let paren = syn::parenthesized!(content in input);
    let mut params: Vec<ParamDecl> = Vec::new();
    while !content.is_empty() {
        let mut name = None;
        let p = param(&content, ctx, &mut name);
        let ok = p.is_ok();
        let p = match (p, name) {
            (Ok(p), _) => Some(p),
            (Err(e), name) => {
                ctx.push(e);
                skip_past_comma(&content);
                let tensor = TensorDecl { dtype: None, shape: None, sym: None };
                name.map(|name| ParamDecl { name, tensor, output: false, broken: true })
            }
        };
        if let Some(p) = p {
            if let Some(prev) = params.iter().find(|q| q.name == p.name) {
                ctx.err(&p.name, format!("the parameter name `{}` is used twice", prev.name));
            }
            params.push(p);
        }
        if ok && !content.is_empty() {
            if let Err(e) = content.parse::<Token![,]>() {
                ctx.push(e);
                skip_past_comma(&content);
            }
        }
    }
    if input.peek(Token![->]) {
        let arrow = input.parse::<Token![->]>()?;
        // Whatever is written up to the body is the return type.
        let mut end = arrow.spans[1];
        while !input.is_empty() && !input.peek(token::Brace) && !input.peek(Token![where]) {
            end = input.parse::<proc_macro2::TokenTree>()?.span();
        }
        ctx.err(
            Sp::new(arrow.spans[0], end),
            "tensor functions return nothing: write results through `&mut` parameters",
        );
    }
    let dims = if input.peek(Token![where]) { super::dims::where_clause(input, ctx, at)? } else { vec![] };
    for p in params.iter_mut() {
        resolve(&mut p.tensor, &dims, ctx);
    }
    for d in &dims {
        if !params.iter().any(|p| p.tensor.sym.as_ref() == Some(&d.name)) {
            ctx.err(
                &d.name,
                format!(
                    "`{}` is not the first dimension of any parameter: its value is read from the length of a \
                     parameter declared `[f32; {}, ..]`",
                    d.name, d.name
                ),
            );
        }
    }
    if !params.iter().any(|p| p.output || p.broken) && ctx.count() == errors_before {
        ctx.err(
            Sp::new(name.span(), paren.span.close()),
            "a tensor function needs an output: declare one parameter `name: &mut [f32; ..]`",
        );
    }
    let complete = params.iter().all(|p| p.tensor.dtype.is_some() && p.tensor.shape.is_some());
    let sig = (ctx.count() == errors_before && complete).then(|| KernelSig {
        attrs,
        vis,
        name: name.clone(),
        params: params
            .iter()
            .map(|p| ParamSig {
                name: p.name.clone(),
                dtype: p.tensor.dtype.unwrap_or(DataType::F32),
                shape: p.tensor.shape.clone().unwrap_or_default(),
                sym: p.tensor.sym.as_ref().map(|i| i.to_string()),
                output: p.output,
            })
            .collect(),
    });
    Ok(SigDecl { name, params, dims, sig, fast_math })
}

/// `IDENT ':' '&' 'mut' tensor` or `IDENT ':' tensor`; `name` is set as soon
/// as the name parsed.
fn param(input: ParseStream, ctx: &mut Ctx, name_out: &mut Option<Ident>) -> syn::Result<ParamDecl> {
    if input.peek(Token![mut]) {
        let m = input.parse::<Token![mut]>()?;
        ctx.err(m.span, "parameters cannot be `mut`; mark outputs with `&mut` in the type: `c: &mut [f32; ..]`");
    }
    let name: Ident = input.parse()?;
    *name_out = Some(name.clone());
    input.parse::<Token![:]>()?;
    let mut output = false;
    if input.peek(Token![&]) {
        let amp = input.parse::<Token![&]>()?;
        if input.peek(Token![mut]) {
            input.parse::<Token![mut]>()?;
            output = true;
        } else {
            ctx.err(
                amp.span,
                format!("inputs are written without `&`: `{name}: [f32; ..]`; outputs are `{name}: &mut [f32; ..]`"),
            );
        }
    }
    let tensor = tensor(input, ctx)?;
    Ok(ParamDecl { name, tensor, output, broken: false })
}

/// `'[' dtype ';' INT (',' INT)* ','? ']'`
pub(crate) fn tensor(input: ParseStream, ctx: &mut Ctx) -> syn::Result<TensorDecl> {
    if !input.peek(token::Bracket) {
        return Err(input.error("expected a tensor type `[f32; d0, d1, ..]`"));
    }
    let content;
    let bracket = syn::bracketed!(content in input);
    if !content.peek(Ident::peek_any) {
        return Err(content.error("expected an element type: f32, f64 or i32"));
    }
    let ty = Ident::parse_any(&content)?;
    let dtype = DataType::from_rust(&ty.to_string());
    if dtype.is_none() {
        ctx.err(&ty, format!("unsupported element type `{ty}`; expected f32, f64 or i32"));
    }
    if !content.peek(Token![;]) {
        return Err(content.error("expected `;` between the element type and the dimensions: `[f32; 128, 64]`"));
    }
    content.parse::<Token![;]>()?;
    let mut shape = Some(Vec::new());
    let mut numel: Option<i64> = Some(1);
    let mut sym = None;
    while !content.is_empty() {
        if content.peek(Ident) && (content.peek2(Token![,]) || content.peek2(syn::parse::End)) {
            let id: Ident = content.parse()?;
            if shape.as_ref().is_some_and(|s| !s.is_empty()) || sym.is_some() {
                ctx.err(&id, format!("a symbolic dimension must be the first dimension: `[f32; {id}, ..]`"));
                shape = None;
            } else {
                sym = Some(id);
                if let Some(s) = shape.as_mut() {
                    s.push(1);
                }
            }
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
            continue;
        }
        let d = dim(&content, ctx);
        match (d, shape.as_mut()) {
            (Some(d), Some(s)) => {
                s.push(d);
                numel = numel.and_then(|n| n.checked_mul(d));
            }
            _ => shape = None,
        }
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    if shape.as_ref().is_some_and(|s| s.is_empty()) {
        ctx.err(bracket.span.join(), "a tensor needs at least one dimension");
        shape = None;
    }
    if shape.is_some() && numel.is_none_or(|n| n > MAX_NUMEL) {
        ctx.err(bracket.span.join(), format!("tensor too large: at most {MAX_NUMEL} elements are supported"));
        shape = None;
    }
    Ok(TensorDecl { dtype, shape, sym })
}

/// One dimension: a positive integer literal. Reports a bad one and skips its
/// tokens up to the next `,`.
fn dim(input: ParseStream, ctx: &mut Ctx) -> Option<i64> {
    let start = input.span();
    if input.peek(syn::LitInt) {
        if let Ok(lit) = input.parse::<syn::LitInt>() {
            return match lit.base10_parse::<i64>() {
                Ok(v) if v <= 0 => {
                    ctx.err(lit.span(), "dimensions must be positive");
                    None
                }
                Ok(v) if v <= MAX_EXTENT => Some(v),
                _ => {
                    ctx.err(lit.span(), format!("dimension too large: at most {MAX_EXTENT}"));
                    None
                }
            };
        }
    }
    let negative = input.peek(Token![-]);
    let mut end = start;
    let _ = input.step(|cursor| {
        let mut c = *cursor;
        while let Some((tt, next)) = c.token_tree() {
            if matches!(&tt, proc_macro2::TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            end = tt.span();
            c = next;
        }
        Ok(((), c))
    });
    let msg =
        if negative { "dimensions must be positive" } else { "dimensions must be integer literals: shapes are static" };
    ctx.err(Sp::new(start, end), msg);
    None
}
