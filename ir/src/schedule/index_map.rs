//! Index maps (`lambda i, j: (T.floordiv(j, 16), i, j % 16)`): their text
//! form in traces, parsing, and evaluation as IR expressions.

use proc_macro2::{Delimiter, TokenTree};

use crate::ir::{BinOp, Expr, Var};

pub use crate::trace::index_expr::{index_expr_text, parse_index_expr, parse_index_expr_tokens};

/// An index map `lambda i, j: (T.floordiv(j, 16), i, j % 16)`: parameters (one
/// per dimension of the buffer it applies to) and result index expressions.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexMap {
    pub params: Vec<Var>,
    pub results: Vec<Expr>,
}

impl IndexMap {
    /// A map with the given parameter names and results (expressions of the parameters).
    pub fn new(params: &[&str], results: Vec<Expr>) -> IndexMap {
        IndexMap { params: params.iter().map(|p| Var::new(p)).collect(), results }
    }

    /// Parses the trace text form `lambda i, j: (expr, expr)`.
    pub fn parse(text: &str) -> Result<IndexMap, String> {
        let ts: proc_macro2::TokenStream = text.parse().map_err(|e| format!("bad index map `{text}`: {e}"))?;
        let mut toks = ts.into_iter().peekable();
        match toks.next() {
            Some(TokenTree::Ident(i)) if i == "lambda" => {}
            _ => return Err(format!("an index map starts with `lambda`: `{text}`")),
        }
        let mut params = Vec::new();
        loop {
            match toks.next() {
                Some(TokenTree::Ident(i)) => params.push(i.to_string()),
                _ => return Err(format!("expected a lambda parameter in `{text}`")),
            }
            match toks.next() {
                Some(TokenTree::Punct(p)) if p.as_char() == ':' => break,
                Some(TokenTree::Punct(p)) if p.as_char() == ',' => {}
                _ => return Err(format!("expected `,` or `:` after a lambda parameter in `{text}`")),
            }
        }
        let group = match (toks.next(), toks.next()) {
            (Some(TokenTree::Group(g)), None) if g.delimiter() == Delimiter::Parenthesis => g,
            _ => return Err(format!("expected `(...)` after `lambda ...:` in `{text}`")),
        };
        let mut parts: Vec<Vec<TokenTree>> = vec![vec![]];
        for t in group.stream() {
            match &t {
                TokenTree::Punct(p) if p.as_char() == ',' => parts.push(vec![]),
                _ => parts.last_mut().unwrap().push(t),
            }
        }
        if parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        let results = parts
            .iter()
            .map(|p| parse_index_expr_tokens(p, &params).map_err(|(m, _)| format!("{m} in `{text}`")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IndexMap { params: params.iter().map(|p| Var::new(p)).collect(), results })
    }

    /// Reads the trace argument form.
    pub fn from_arg(arg: &crate::trace::IndexMapArg) -> Result<IndexMap, String> {
        let results = arg.results.iter().map(|r| parse_index_expr(r, &arg.params)).collect::<Result<Vec<_>, _>>()?;
        Ok(IndexMap { params: arg.params.iter().map(|p| Var::new(p)).collect(), results })
    }

    /// The trace argument form (results in the canonical trace syntax).
    pub fn to_arg(&self) -> crate::trace::IndexMapArg {
        crate::trace::IndexMapArg {
            params: self.params.iter().map(|p| p.name().to_string()).collect(),
            results: self.results.iter().map(index_expr_text).collect(),
        }
    }

    /// The results with the parameters replaced by `indices` (not simplified).
    pub fn apply(&self, indices: &[Expr]) -> Vec<Expr> {
        debug_assert_eq!(indices.len(), self.params.len());
        let sub = |v: &Var| self.params.iter().position(|p| p == v).map(|k| indices[k].clone());
        self.results.iter().map(|r| r.substitute(&sub)).collect()
    }

    /// The results at integer parameter values; `None` if a result is not
    /// plain index arithmetic or divides by a non-positive constant.
    pub fn eval(&self, point: &[i64]) -> Option<Vec<i64>> {
        fn go(e: &Expr, params: &[Var], point: &[i64]) -> Option<i64> {
            Some(match e {
                Expr::Int(v) => *v,
                Expr::Var(v) => point[params.iter().position(|p| p == v)?],
                Expr::Binary(op, a, b) => {
                    let (a, b) = (go(a, params, point)?, go(b, params, point)?);
                    match op {
                        BinOp::Add => a.checked_add(b)?,
                        BinOp::Sub => a.checked_sub(b)?,
                        BinOp::Mul => a.checked_mul(b)?,
                        BinOp::FloorDiv if b > 0 => a.div_euclid(b),
                        BinOp::FloorMod if b > 0 => a.rem_euclid(b),
                        _ => return None,
                    }
                }
                _ => return None,
            })
        }
        self.results.iter().map(|r| go(r, &self.params, point)).collect()
    }
}

impl std::fmt::Display for IndexMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let params: Vec<&str> = self.params.iter().map(|p| p.name()).collect();
        let results: Vec<String> = self.results.iter().map(index_expr_text).collect();
        write!(f, "lambda {}: ({}{})", params.join(", "), results.join(", "), if results.len() == 1 { "," } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_map_text_round_trips() {
        let m = IndexMap::parse("lambda k, j: (T.floordiv(j, 16), k, j % 16)").unwrap();
        assert_eq!(m.to_string(), "lambda k, j: (T.floordiv(j, 16), k, j % 16)");
        assert_eq!(IndexMap::from_arg(&m.to_arg()).unwrap(), m);
        assert_eq!(m.eval(&[3, 37]), Some(vec![2, 3, 5]));
        assert!(IndexMap::parse("lambda k: (q,)").is_err());
        assert_eq!(IndexMap::parse("lambda i: (i * 2,)").unwrap().to_string(), "lambda i: (i * 2,)");
    }
}
