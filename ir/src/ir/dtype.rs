//! Element and index data types.

use std::fmt;

/// The type of a buffer element or of an expression.
///
/// `Index` is the type of loop variables, block iteration variables and buffer
/// indices (64-bit signed integers); `Bool` is the type of conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataType {
    F32,
    F64,
    I32,
    Index,
    Bool,
}

impl DataType {
    /// Parses the Rust spelling of an element type (`f32`, `f64`, `i32`).
    pub fn from_rust(name: &str) -> Option<DataType> {
        match name {
            "f32" => Some(DataType::F32),
            "f64" => Some(DataType::F64),
            "i32" => Some(DataType::I32),
            _ => None,
        }
    }

    /// The Rust spelling of the type.
    pub fn rust_name(self) -> &'static str {
        match self {
            DataType::F32 => "f32",
            DataType::F64 => "f64",
            DataType::I32 => "i32",
            DataType::Index => "i64",
            DataType::Bool => "bool",
        }
    }

    /// The TVMScript spelling of the type, used by the printer.
    pub fn tvm_name(self) -> &'static str {
        match self {
            DataType::F32 => "float32",
            DataType::F64 => "float64",
            DataType::I32 => "int32",
            DataType::Index => "int64",
            DataType::Bool => "bool",
        }
    }

    /// Size of one element in bytes.
    pub fn bytes(self) -> usize {
        match self {
            DataType::F32 | DataType::I32 => 4,
            DataType::F64 | DataType::Index => 8,
            DataType::Bool => 1,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DataType::F32 | DataType::F64)
    }

    pub fn is_int(self) -> bool {
        matches!(self, DataType::I32 | DataType::Index)
    }

    /// Whether buffers may hold elements of this type.
    pub fn is_element(self) -> bool {
        matches!(self, DataType::F32 | DataType::F64 | DataType::I32)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rust_name())
    }
}
