use kiln::tensor_func;

tensor_func! {}

fn main() {}
