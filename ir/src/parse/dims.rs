//! Symbolic dimensions: the `where` clause that declares them.
//!
//! ```text
//! where_clause := 'where' dim_decl (',' dim_decl)* ','?
//! dim_decl     := IDENT ':' 'dim' '(' INT '..=' INT ',' 'tune' '=' tune ')'
//! tune         := INT | '[' INT (',' INT)* ','? ']'
//! ```
//!
//! `n: dim(1..=4096, tune = 64)` declares a size known at run time, between 1
//! and 4096, read from the length of the parameters whose first dimension it
//! is (`x: [f32; n, 784]`), and tuned at 64. The parser builds the IR of one
//! instance: at the first tune value, unless the caller asks for another
//! ([`super::parse_kernel_at`]).

use std::collections::BTreeMap;

use syn::parse::ParseStream;
use syn::{token, Ident, Token};

use super::limits::MAX_EXTENT;
use super::sig::DimDecl;
use super::{Ctx, Sp};

syn::custom_keyword!(dim);
syn::custom_keyword!(tune);

/// `where n: dim(..), ..`: the declared dimensions, each at its value in `at`
/// (else at its first tune value).
pub(crate) fn where_clause(input: ParseStream, ctx: &mut Ctx, at: &BTreeMap<String, i64>) -> syn::Result<Vec<DimDecl>> {
    let where_tok = input.parse::<Token![where]>()?;
    let mut dims: Vec<DimDecl> = Vec::new();
    while !input.is_empty() && !input.peek(token::Brace) {
        let d = dim_decl(input, ctx)?;
        if dims.iter().any(|e| e.name == d.name) {
            ctx.err(&d.name, format!("the dimension `{}` is declared twice", d.name));
        } else {
            // (Declared even with an error in its range, so that its uses are
            // not reported as unknown too.)
            let value = at.get(&d.name.to_string()).copied().unwrap_or(d.tune[0]);
            if value < d.min || value > d.max {
                ctx.err(&d.name, format!("`{}` = {value} is outside its range {}..={}", d.name, d.min, d.max));
            }
            dims.push(DimDecl { value, ..d });
        }
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        } else {
            break;
        }
    }
    if dims.is_empty() {
        ctx.err(where_tok.span, "expected a symbolic dimension after `where`: `n: dim(1..=4096, tune = 64)`");
    }
    Ok(dims)
}

const FORM: &str = "`n: dim(1..=4096, tune = 64)`";

/// A positive integer literal no larger than `MAX_EXTENT`.
fn int(input: ParseStream, ctx: &mut Ctx, what: &str) -> syn::Result<Option<(i64, Sp)>> {
    let lit: syn::LitInt =
        input.parse().map_err(|e| syn::Error::new(e.span(), format!("expected {what}, as in {FORM}")))?;
    match lit.base10_parse::<i64>() {
        Ok(v) if (1..=MAX_EXTENT).contains(&v) => Ok(Some((v, lit.span().into()))),
        _ => {
            ctx.err(lit.span(), format!("{what} must be between 1 and {MAX_EXTENT}"));
            Ok(None)
        }
    }
}

fn dim_decl(input: ParseStream, ctx: &mut Ctx) -> syn::Result<DimDecl> {
    let name: Ident = input.parse()?;
    if !input.peek(Token![:]) {
        return Err(input.error(format!("expected `:` and the range of `{name}`, as in {FORM}")));
    }
    input.parse::<Token![:]>()?;
    if !(input.peek(dim) && input.peek2(token::Paren)) {
        return Err(input.error(
            "expected `dim(min..=max, tune = value)`: the `where` clause of a tensor function declares symbolic \
             dimensions, as in `n: dim(1..=4096, tune = 64)` (there are no trait bounds)",
        ));
    }
    input.parse::<dim>()?;
    let content;
    let paren = syn::parenthesized!(content in input);
    let lo = int(&content, ctx, "the smallest value")?;
    if content.peek(Token![..]) && !content.peek(Token![..=]) {
        return Err(content.error("write the range inclusive: `1..=4096`"));
    }
    content.parse::<Token![..=]>().map_err(|e| syn::Error::new(e.span(), format!("expected `..=`, as in {FORM}")))?;
    let hi = int(&content, ctx, "the largest value")?;
    if !content.peek(Token![,]) {
        return Err(syn::Error::new(
            paren.span.close(),
            format!("`{name}` needs the value(s) to tune at: `{name}: dim(1..=4096, tune = 64)`"),
        ));
    }
    content.parse::<Token![,]>()?;
    if !content.peek(tune) {
        return Err(content.error(format!("expected `tune = ..`, as in {FORM}")));
    }
    content.parse::<tune>()?;
    content.parse::<Token![=]>()?;
    let mut tune_values = Vec::new();
    if content.peek(token::Bracket) {
        let list;
        let br = syn::bracketed!(list in content);
        while !list.is_empty() {
            tune_values.push(int(&list, ctx, "a tune value")?);
            if list.is_empty() {
                break;
            }
            list.parse::<Token![,]>()?;
        }
        if tune_values.is_empty() {
            ctx.err(br.span.join(), "at least one tune value is needed");
        }
    } else {
        tune_values.push(int(&content, ctx, "a tune value")?);
    }
    if !content.is_empty() {
        let _ = content.parse::<Token![,]>();
        if !content.is_empty() {
            return Err(content.error(format!("unexpected tokens; a dimension is declared {FORM}")));
        }
    }
    let (Some((lo, lo_sp)), Some((hi, hi_sp))) = (lo, hi) else {
        return Ok(DimDecl { name, min: 1, max: 1, tune: vec![1], value: 1 });
    };
    if lo > hi {
        ctx.err(lo_sp.to(hi_sp), format!("the range of `{name}` is empty: {lo} > {hi}"));
        return Ok(DimDecl { name, min: lo, max: lo, tune: vec![lo], value: 0 });
    }
    let mut tune_out = Vec::new();
    for (v, sp) in tune_values.into_iter().flatten() {
        if v < lo || v > hi {
            ctx.err(sp, format!("the tune value {v} is outside the range {lo}..={hi} of `{name}`"));
        } else if !tune_out.contains(&v) {
            tune_out.push(v);
        }
    }
    if tune_out.is_empty() {
        // (Reported above.)
        tune_out.push(lo);
    }
    Ok(DimDecl { name, min: lo, max: hi, tune: tune_out, value: 0 })
}
