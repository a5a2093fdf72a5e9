//! Input that is no kernel at all: one error, no panic, no stub.
use kiln::tensor_func;

tensor_func! {
    ([{ }]) [] {} 42 "not a kernel" + - * / @ # $ fn fn ( ) -> => 'a 1e999 b"x" r#fn
}

fn main() {}
