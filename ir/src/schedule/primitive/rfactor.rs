//! (being written)

use super::RvMap;
use crate::schedule::{Schedule, ScheduleError};
use crate::trace::{Instruction, Rv};

pub(super) fn replay(_sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    Err(map.err(format!("`{}` is not implemented yet", inst.kind.name())))
}
