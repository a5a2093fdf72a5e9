//! The versioned JSON form of a trace.
//!
//! ```json
//! {"format": 1, "insts": [
//!   {"kind": "get_block", "args": [["name", {"str": "C"}], ["func_name", {"str": "main"}]], "outputs": ["b0"]},
//!   {"kind": "sample_perfect_tile", "args": [["loop", {"rv": "l2"}], ...], "outputs": ["v4", "v5"], "decision": [32, 4]}
//! ]}
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Instruction, Rv, RvKind, Trace};

/// The current JSON trace format version.
pub const TRACE_FORMAT: u32 = 1;

/// The on-disk wrapper with its format version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceJson {
    pub format: u32,
    pub insts: Vec<Instruction>,
}

impl Serialize for Rv {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Rv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rv, D::Error> {
        let s = String::deserialize(d)?;
        let mut chars = s.chars();
        let kind = chars.next().and_then(RvKind::from_prefix);
        let id = chars.as_str().parse::<u32>().ok();
        match (kind, id) {
            (Some(kind), Some(id)) => Ok(Rv { id, kind }),
            _ => Err(serde::de::Error::custom(format!("`{s}` is not a handle name"))),
        }
    }
}

impl Trace {
    /// The JSON value of the trace (with its format version).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(TraceJson { format: TRACE_FORMAT, insts: self.insts.clone() })
            .expect("a trace always serializes")
    }

    /// Reads a trace from its JSON value; an unknown version or a malformed
    /// instruction is an error saying what is wrong.
    pub fn from_json(v: &serde_json::Value) -> Result<Trace, String> {
        let format = v.get("format").and_then(|f| f.as_u64());
        match format {
            Some(f) if f == TRACE_FORMAT as u64 => {}
            Some(f) => {
                return Err(format!("trace format {f} is not supported (this kiln reads format {TRACE_FORMAT})"))
            }
            None => return Err("a trace needs a numeric \"format\" field".into()),
        }
        let t: TraceJson = serde_json::from_value(v.clone()).map_err(|e| format!("malformed trace: {e}"))?;
        Ok(Trace { insts: t.insts })
    }
}
