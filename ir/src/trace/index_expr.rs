//! The index expressions of index maps in the trace text
//! (`T.floordiv(j, 16)`, `j % 16`): printing and parsing them. Index maps
//! themselves (`crate::schedule::index_map`) build on this.

use proc_macro2::{Delimiter, Span, TokenTree};

use crate::ir::{BinOp, Expr, Var};

/// Prints an index expression in the trace syntax (`T.floordiv(a, b)` for
/// floor division, since `//` would be a comment in Rust tokens).
pub fn index_expr_text(e: &Expr) -> String {
    fn go(e: &Expr, outer: u8) -> String {
        match e {
            Expr::Var(v) => v.name().to_string(),
            Expr::Int(v) if *v < 0 => format!("({v})"),
            Expr::Int(v) => v.to_string(),
            Expr::Binary(BinOp::FloorDiv, a, b) => format!("T.floordiv({}, {})", go(a, 0), go(b, 0)),
            Expr::Binary(op @ (BinOp::Add | BinOp::Sub), a, b) => {
                let s = format!("{} {} {}", go(a, 1), if *op == BinOp::Add { "+" } else { "-" }, go(b, 2));
                if outer > 1 {
                    format!("({s})")
                } else {
                    s
                }
            }
            Expr::Binary(op @ (BinOp::Mul | BinOp::FloorMod), a, b) => {
                let s = format!("{} {} {}", go(a, 2), if *op == BinOp::Mul { "*" } else { "%" }, go(b, 3));
                if outer > 2 {
                    format!("({s})")
                } else {
                    s
                }
            }
            other => format!("<unsupported {}>", crate::ir::expr_to_string(other)),
        }
    }
    go(e, 0)
}

type ParseErr = (String, Option<Span>);

/// Parses an index expression over `params` from Rust tokens: integers,
/// parameters, `+ - * %`, parentheses, `T.floordiv(a, b)`, `T.floormod(a, b)`.
pub fn parse_index_expr_tokens(toks: &[TokenTree], params: &[String]) -> Result<Expr, ParseErr> {
    let mut p = P { toks, pos: 0, params };
    let e = p.sum()?;
    if p.pos < toks.len() {
        return Err(("unexpected tokens in an index expression".into(), Some(toks[p.pos].span())));
    }
    Ok(e)
}

/// Parses an index expression from text.
pub fn parse_index_expr(text: &str, params: &[String]) -> Result<Expr, String> {
    let ts: proc_macro2::TokenStream = text.parse().map_err(|e| format!("bad index expression `{text}`: {e}"))?;
    let toks: Vec<TokenTree> = ts.into_iter().collect();
    parse_index_expr_tokens(&toks, params).map_err(|(m, _)| format!("{m} in `{text}`"))
}

struct P<'a> {
    toks: &'a [TokenTree],
    pos: usize,
    params: &'a [String],
}

impl P<'_> {
    fn punct(&self) -> Option<char> {
        match self.toks.get(self.pos) {
            Some(TokenTree::Punct(p)) => Some(p.as_char()),
            _ => None,
        }
    }

    fn sum(&mut self) -> Result<Expr, ParseErr> {
        let mut e = self.product()?;
        while let Some(c @ ('+' | '-')) = self.punct() {
            self.pos += 1;
            let r = self.product()?;
            e = Expr::binary(if c == '+' { BinOp::Add } else { BinOp::Sub }, e, r);
        }
        Ok(e)
    }

    fn product(&mut self) -> Result<Expr, ParseErr> {
        let mut e = self.atom()?;
        while let Some(c @ ('*' | '%')) = self.punct() {
            self.pos += 1;
            let r = self.atom()?;
            e = Expr::binary(if c == '*' { BinOp::Mul } else { BinOp::FloorMod }, e, r);
        }
        Ok(e)
    }

    fn atom(&mut self) -> Result<Expr, ParseErr> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        match t {
            Some(TokenTree::Literal(l)) => {
                l.to_string().parse::<i64>().map(Expr::Int).map_err(|_| ("expected an integer".into(), Some(l.span())))
            }
            Some(TokenTree::Punct(p)) if p.as_char() == '-' => Ok(Expr::Int(0) - self.atom()?),
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                parse_index_expr_tokens(&inner, self.params)
            }
            Some(TokenTree::Ident(i)) if i == "T" => {
                // T.floordiv(a, b) / T.floormod(a, b)
                let dot = matches!(self.toks.get(self.pos), Some(TokenTree::Punct(p)) if p.as_char() == '.');
                let name = match self.toks.get(self.pos + 1) {
                    Some(TokenTree::Ident(n)) if dot => n.to_string(),
                    _ => return Err(("expected `T.floordiv` or `T.floormod`".into(), Some(i.span()))),
                };
                let op = match name.as_str() {
                    "floordiv" => BinOp::FloorDiv,
                    "floormod" => BinOp::FloorMod,
                    _ => return Err((format!("unknown function `T.{name}`"), Some(i.span()))),
                };
                self.pos += 2;
                match self.toks.get(self.pos).cloned() {
                    Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
                        self.pos += 1;
                        let parts: Vec<Vec<TokenTree>> = {
                            let mut out = vec![vec![]];
                            for t in g.stream() {
                                match &t {
                                    TokenTree::Punct(p) if p.as_char() == ',' => out.push(vec![]),
                                    _ => out.last_mut().unwrap().push(t),
                                }
                            }
                            out
                        };
                        if parts.len() != 2 {
                            return Err((format!("`T.{name}` takes two arguments"), Some(g.span())));
                        }
                        let a = parse_index_expr_tokens(&parts[0], self.params)?;
                        let b = parse_index_expr_tokens(&parts[1], self.params)?;
                        Ok(Expr::binary(op, a, b))
                    }
                    _ => Err((format!("expected `(` after `T.{name}`"), Some(i.span()))),
                }
            }
            Some(TokenTree::Ident(i)) => {
                let n = i.to_string();
                if self.params.contains(&n) {
                    Ok(Expr::Var(Var::new(&n)))
                } else {
                    Err((format!("`{n}` is not a parameter of the index map"), Some(i.span())))
                }
            }
            Some(t) => Err((format!("unexpected `{t}` in an index expression"), Some(t.span()))),
            None => Err(("an index expression ended early".into(), None)),
        }
    }
}
