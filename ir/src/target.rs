//! What code is generated for: the instruction set ([`Isa`]: lanes, vector
//! registers, `#[target_feature]` strings, trace-file keys), the register
//! budget of a register tile, and the tile shapes the design space samples.
//!
//! Everything that depends on the target and is not a vector operation lives
//! here, so that the design space, the trace files, the code generator and the
//! tuner read the same numbers. The vector operations themselves are the code
//! generator's (`codegen::isa`).

use crate::ir::DataType;

/// A code-generation target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust, no intrinsics (the fallback on every target).
    Scalar,
    /// x86-64 AVX2 + FMA: 8 f32 lanes, 16 ymm registers.
    Avx2,
    /// x86-64 AVX-512F: 16 f32 lanes, 32 zmm registers.
    Avx512,
}

impl Isa {
    /// Every ISA, best first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Scalar];

    /// The name used on the command line and in messages (`avx512`).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The key of this target in a trace file (`"x86_64-avx512"`).
    pub fn target_key(self) -> &'static str {
        match self {
            Isa::Scalar => "generic-scalar",
            Isa::Avx2 => "x86_64-avx2",
            Isa::Avx512 => "x86_64-avx512",
        }
    }

    /// Parses a name or a trace-file key.
    pub fn from_name(s: &str) -> Option<Isa> {
        match s {
            "scalar" | "generic-scalar" => Some(Isa::Scalar),
            "avx2" | "x86_64-avx2" => Some(Isa::Avx2),
            "avx512" | "x86_64-avx512" => Some(Isa::Avx512),
            _ => None,
        }
    }

    /// The `#[target_feature(enable = ...)]` string (`None` for portable code).
    pub fn target_features(self) -> Option<&'static str> {
        match self {
            Isa::Scalar => None,
            Isa::Avx2 => Some("avx2,fma"),
            Isa::Avx512 => Some("avx512f,avx2,fma"),
        }
    }

    /// The variant of `kiln::Isa` (the runtime's copy of this enum: the
    /// runtime cannot depend on the compiler).
    pub fn runtime_variant(self) -> &'static str {
        match self {
            Isa::Scalar => "Scalar",
            Isa::Avx2 => "Avx2",
            Isa::Avx512 => "Avx512",
        }
    }

    /// Bits of a vector register (0 for scalar code).
    pub fn vector_bits(self) -> usize {
        match self {
            Isa::Scalar => 0,
            Isa::Avx2 => 256,
            Isa::Avx512 => 512,
        }
    }

    /// SIMD lanes for `dtype` (1 for scalar).
    pub fn lanes(self, dtype: DataType) -> usize {
        match self.vector_bits() {
            0 => 1,
            bits => bits / 8 / dtype.bytes(),
        }
    }

    /// Vector registers available.
    pub fn registers(self) -> usize {
        match self {
            Isa::Scalar => 16,
            Isa::Avx2 => 16,
            Isa::Avx512 => 32,
        }
    }

    /// The register-tile shapes the design space samples on this ISA.
    pub fn tile_shapes(self) -> TileShapes {
        match self {
            Isa::Avx512 => TileShapes {
                max_rows: 12,
                max_vectors: 4,
                rows: 4,
                vectors: 4,
                gemv_rows: 4,
                gemv_cols: 4,
                max_gemv: 8,
            },
            Isa::Avx2 => TileShapes {
                max_rows: 12,
                max_vectors: 3,
                rows: 6,
                vectors: 2,
                gemv_rows: 4,
                gemv_cols: 2,
                max_gemv: 8,
            },
            Isa::Scalar => {
                TileShapes { max_rows: 8, max_vectors: 8, rows: 4, vectors: 4, gemv_rows: 4, gemv_cols: 2, max_gemv: 8 }
            }
        }
    }

    /// Whether a register tile needing `use_` registers fits (the one
    /// register budget of the design space and the tuner's checks). Scalar
    /// code has no vector registers to spill and always fits.
    pub fn check_registers(self, use_: RegisterUse) -> Result<(), RegisterError> {
        let needed = use_.needed();
        if self == Isa::Scalar || needed <= self.registers() as i64 {
            Ok(())
        } else {
            Err(RegisterError { isa: self, use_, available: self.registers() as i64 })
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a trace-file entry is for: an ISA, optionally narrowed to one CPU
/// class (the `-C target-cpu` name of the microarchitecture, `znver3`,
/// `sapphirerapids`, ...). The key is `x86_64-avx2` or `x86_64-avx2@znver3`.
///
/// A kernel built for a CPU class uses that class's entry, else the ISA's
/// entry, else its `schedule { }` section, else the default schedule
/// (`crate::program`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub isa: Isa,
    pub cpu: Option<String>,
}

impl Target {
    /// The generic target of an ISA (no CPU class).
    pub fn isa(isa: Isa) -> Target {
        Target { isa, cpu: None }
    }

    /// The target of `isa` on CPUs of class `cpu`.
    pub fn cpu(isa: Isa, cpu: &str) -> Target {
        Target { isa, cpu: Some(cpu.to_string()) }
    }

    /// The key in a trace file.
    pub fn key(&self) -> String {
        match &self.cpu {
            None => self.isa.target_key().to_string(),
            Some(c) => format!("{}@{c}", self.isa.target_key()),
        }
    }

    /// Parses a key; a CPU class is lower-case letters, digits, `-` and `_`.
    pub fn parse(key: &str) -> Option<Target> {
        let (isa, cpu) = match key.split_once('@') {
            None => (key, None),
            Some((isa, cpu)) => (isa, Some(cpu)),
        };
        let isa = Isa::from_name(isa)?;
        match cpu {
            None => Some(Target::isa(isa)),
            Some(c) if is_cpu_class(c) => Some(Target::cpu(isa, c)),
            Some(_) => None,
        }
    }

    /// The generic target of the same ISA (itself if it has no CPU class).
    pub fn generic(&self) -> Target {
        Target::isa(self.isa)
    }
}

/// Whether `s` is a well-formed CPU class name.
pub fn is_cpu_class(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

/// The register-tile shapes of the design space: the largest sampled and the
/// default, for the `SSRSRS` tile (rows × vectors of accumulators) and for
/// the rfactor (GEMV) tile (rows × columns of partial-sum vectors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileShapes {
    pub max_rows: i64,
    pub max_vectors: i64,
    pub rows: i64,
    pub vectors: i64,
    pub gemv_rows: i64,
    pub gemv_cols: i64,
    /// The largest rows or columns of the rfactor tile sampled.
    pub max_gemv: i64,
}

/// The vector registers a register tile keeps busy: its accumulators, the
/// operand vectors it reuses across the tile (so they stay live), and one
/// transient register (a broadcast, or an operand used once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegisterUse {
    pub accumulators: i64,
    pub operands: i64,
}

impl RegisterUse {
    /// Registers needed: accumulators + live operands + one transient.
    pub fn needed(self) -> i64 {
        if self.accumulators == 0 && self.operands == 0 {
            0
        } else {
            self.accumulators + self.operands + 1
        }
    }
}

/// A register tile that would spill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterError {
    pub isa: Isa,
    pub use_: RegisterUse,
    pub available: i64,
}

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the register tile needs {} {} registers ({} accumulators + {} live operands + 1), {} has {}",
            self.use_.needed(),
            if self.isa == Isa::Avx512 { "zmm" } else { "ymm" },
            self.use_.accumulators,
            self.use_.operands,
            self.isa.name(),
            self.available
        )
    }
}

impl std::error::Error for RegisterError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for isa in Isa::ALL {
            assert_eq!(Isa::from_name(isa.name()), Some(isa));
            assert_eq!(Isa::from_name(isa.target_key()), Some(isa));
        }
        assert_eq!(Isa::from_name("sse"), None);
    }

    #[test]
    fn target_keys() {
        assert_eq!(Target::isa(Isa::Avx2).key(), "x86_64-avx2");
        assert_eq!(Target::cpu(Isa::Avx512, "znver4").key(), "x86_64-avx512@znver4");
        for key in ["x86_64-avx2", "x86_64-avx512@sapphirerapids", "generic-scalar", "x86_64-avx2@znver1"] {
            assert_eq!(Target::parse(key).unwrap().key(), key);
        }
        for bad in ["x86_64-sse", "x86_64-avx2@", "x86_64-avx2@Zen 3", "@znver3", "x86_64-avx2@a@b"] {
            assert_eq!(Target::parse(bad), None, "{bad}");
        }
        assert_eq!(Target::parse("x86_64-avx2@znver3").unwrap().generic(), Target::isa(Isa::Avx2));
    }

    #[test]
    fn lanes_follow_the_vector_width() {
        assert_eq!(Isa::Avx512.lanes(DataType::F32), 16);
        assert_eq!(Isa::Avx2.lanes(DataType::F32), 8);
        assert_eq!(Isa::Avx2.lanes(DataType::F64), 4);
        assert_eq!(Isa::Scalar.lanes(DataType::F32), 1);
    }

    /// One formula everywhere: an AVX-512 7×4 tile (28 accumulators, 4 live
    /// B vectors, a broadcast) needs 33 registers and is refused; 6×4 fits.
    #[test]
    fn the_register_budget() {
        let tile = |rows, vecs| RegisterUse { accumulators: rows * vecs, operands: vecs };
        assert!(Isa::Avx512.check_registers(tile(7, 4)).is_err());
        assert!(Isa::Avx512.check_registers(tile(6, 4)).is_ok());
        assert!(Isa::Avx2.check_registers(tile(6, 2)).is_ok());
        let e = Isa::Avx2.check_registers(tile(6, 3)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the register tile needs 22 ymm registers (18 accumulators + 3 live operands + 1), avx2 has 16"
        );
        assert!(Isa::Scalar.check_registers(tile(8, 8)).is_ok());
        for isa in Isa::ALL {
            let s = isa.tile_shapes();
            let default = RegisterUse { accumulators: s.rows * s.vectors, operands: s.vectors };
            assert!(isa.check_registers(default).is_ok(), "{isa}: the default tile spills");
        }
    }
}
