use kiln::tensor_func;

tensor_func! {
    pub fn nothing(a: [f32; 8], c: [f32; 8]) {}
}

fn main() {}
