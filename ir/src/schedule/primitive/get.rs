//! Lookups: `get_block`, `get_loops`, `get_producers`, `get_consumers`.
//!
//! They do not change the IR; they create handles and are recorded so that a
//! replayed trace can resolve the same handles.

use super::RvMap;
use crate::schedule::analysis;
use crate::schedule::{BlockRV, LoopRV, RvValue, Schedule, ScheduleError};
use crate::trace::{Arg, InstKind, Instruction, Rv};

impl Schedule {
    /// The block named `name`.
    pub fn get_block(&mut self, name: &str) -> Result<BlockRV, ScheduleError> {
        if self.func().block(name).is_none() {
            return Err(ScheduleError::UnknownBlock { name: name.to_string() });
        }
        let b = self.new_block_rv(name.to_string());
        self.record(Instruction {
            outputs: vec![b.rv()],
            ..Instruction::new(InstKind::GetBlock)
                .arg("name", Arg::Str(name.to_string()))
                .arg("func_name", Arg::Str("main".into()))
        });
        Ok(b)
    }

    /// The loops enclosing block `b`, outermost first.
    pub fn get_loops(&mut self, b: BlockRV) -> Result<Vec<LoopRV>, ScheduleError> {
        let name = self.block_name(b)?;
        let vars: Vec<String> = self
            .func()
            .loops_of_block(&name)
            .expect("a live handle names an existing block")
            .iter()
            .map(|l| l.var.name().to_string())
            .collect();
        let loops: Vec<LoopRV> = vars.into_iter().map(|v| self.new_loop_rv(RvValue::Loop(v))).collect();
        self.record(Instruction {
            outputs: loops.iter().map(|l| l.rv()).collect(),
            ..Instruction::new(InstKind::GetLoops).arg("block", Arg::Rv(b.rv()))
        });
        Ok(loops)
    }

    /// The blocks that write what `b` reads, in program order.
    pub fn get_producers(&mut self, b: BlockRV) -> Result<Vec<BlockRV>, ScheduleError> {
        let name = self.block_name(b)?;
        let names = analysis::producers(self.func(), &name);
        self.record_block_list(InstKind::GetProducers, b, names)
    }

    /// The blocks that read what `b` writes, in program order.
    pub fn get_consumers(&mut self, b: BlockRV) -> Result<Vec<BlockRV>, ScheduleError> {
        let name = self.block_name(b)?;
        let names = analysis::consumers(self.func(), &name);
        self.record_block_list(InstKind::GetConsumers, b, names)
    }

    fn record_block_list(
        &mut self,
        kind: InstKind,
        b: BlockRV,
        names: Vec<String>,
    ) -> Result<Vec<BlockRV>, ScheduleError> {
        let blocks: Vec<BlockRV> = names.into_iter().map(|n| self.new_block_rv(n)).collect();
        self.record(Instruction {
            outputs: blocks.iter().map(|x| x.rv()).collect(),
            ..Instruction::new(kind).arg("block", Arg::Rv(b.rv()))
        });
        Ok(blocks)
    }
}

pub(super) fn replay(sch: &mut Schedule, inst: &Instruction, map: &RvMap) -> Result<Vec<Rv>, ScheduleError> {
    Ok(match inst.kind {
        InstKind::GetBlock => {
            let name = map.str_(inst, "name")?;
            vec![sch.get_block(name)?.rv()]
        }
        InstKind::GetLoops => {
            let b = map.block(map.arg(inst, "block")?)?;
            sch.get_loops(b)?.into_iter().map(|l| l.rv()).collect()
        }
        InstKind::GetProducers => {
            let b = map.block(map.arg(inst, "block")?)?;
            sch.get_producers(b)?.into_iter().map(|l| l.rv()).collect()
        }
        _ => {
            let b = map.block(map.arg(inst, "block")?)?;
            sch.get_consumers(b)?.into_iter().map(|l| l.rv()).collect()
        }
    })
}
