//! Where the time of a run goes, measured on the host: never part of a result, for
//! `scripts/profile-engine.sh` (`examples/profile.rs`) and the engine's tests.
//!
//! Every run is timed in phases ([`RunTimes`]). A guest built with the feature `profile`
//! (`primitives/engine-guest/src/profile.rs`) also reports each node of the plan as it starts
//! and ends, through the import [`PROFILE_NODE_IMPORT`], which only an engine built with
//! [`Engine::with_profiling`](crate::Engine::with_profiling) defines: the host reads the clock and
//! the fuel left at each report ([`NodeTime`]).

use std::time::{Duration, Instant};

/// The host function `profile_node(node: u32, op_ptr: u32, op_len: u32)` of a profiling guest:
/// node `node` starts (its operator's name is the `op_len` bytes at `op_ptr`) or, with `op_len`
/// = `u32::MAX`, ends.
pub const PROFILE_NODE_IMPORT: &str = "profile_node";

/// The phases of one run of a prepared model, in the order they happen.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunTimes {
	/// A kept instance taken, or a fresh instance from the pool: wasmtime resetting the slot
	/// it had last (its memory and table) and copying the guest's data segments in.
	pub instantiate: Duration,
	/// Growing the memory to the snapshot's size and writing the snapshot's blocks into it; for
	/// a kept instance, its reset (the written pages asked of the kernel and rewritten).
	pub restore: Duration,
	/// Encoding the inputs and writing them into the guest.
	pub inputs: Duration,
	/// The guest's `veriml_run`: the model itself.
	pub run: Duration,
	/// Reading and decoding the outputs.
	pub outputs: Duration,
	/// Keeping the instance for a next run or, when it cannot be kept, dropping it: wasmtime
	/// resets its slot's memory (every byte the instance had, set to zero) and table.
	pub release: Duration,
}

impl RunTimes {
	/// What every run costs besides the model's own work: all but [`run`](Self::run).
	pub fn fixed(&self) -> Duration {
		self.instantiate + self.restore + self.inputs + self.outputs + self.release
	}

	/// All phases.
	pub fn total(&self) -> Duration {
		self.fixed() + self.run
	}
}

/// The clock of a run's phases, each timed from the end of the one before into [`RunTimes`]:
/// read only where the run is timed (`Guest::run_timed`). A node's runs read none: a reading
/// costs tens of nanoseconds on a virtual machine, and the eight a run made were near 2 % of a
/// small model's run.
pub(crate) struct Laps {
	last: Option<Instant>,
	pub(crate) times: RunTimes,
}

impl Laps {
	/// Laps from now, read only if `timed`.
	pub(crate) fn new(timed: bool) -> Self {
		Self { last: timed.then(Instant::now), times: RunTimes::default() }
	}

	/// Ends the phase `phase` picks out of [`RunTimes`]: its time is the time since the last
	/// phase ended.
	pub(crate) fn lap(&mut self, phase: fn(&mut RunTimes) -> &mut Duration) {
		if let Some(last) = &mut self.last {
			let now = Instant::now();
			*phase(&mut self.times) = now - *last;
			*last = now;
		}
	}
}

/// One node of the plan in one run of a profiling guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTime {
	/// Its id in the optimised model.
	pub node: u32,
	/// tract's name of its operator (the optimised op: `Conv` becomes `Optimized` matrix
	/// products and the like).
	pub op: String,
	/// Wall time from its start to its end.
	pub time: Duration,
	/// Fuel it used: its wasm instructions, the tile programs it handed to the host and the
	/// memory it moved.
	pub fuel: u64,
}

/// A report of a profiling guest, as the host received it.
#[derive(Clone, Debug)]
pub(crate) struct NodeMark {
	pub node: u32,
	/// The operator's name at a start, `None` at an end.
	pub op: Option<String>,
	pub at: Instant,
	pub fuel_left: u64,
}

/// Pairs each start with the end that follows it; `None` if the reports do not pair up (a run
/// that trapped in a node).
pub(crate) fn node_times(marks: &[NodeMark]) -> Option<Vec<NodeTime>> {
	marks
		.chunks(2)
		.map(|pair| match pair {
			[start, end] if start.node == end.node && end.op.is_none() => Some(NodeTime {
				node: start.node,
				op: start.op.clone()?,
				time: end.at.saturating_duration_since(start.at),
				fuel: start.fuel_left.saturating_sub(end.fuel_left),
			}),
			_ => None,
		})
		.collect()
}

/// A model prepared once and run a number of times, each run timed.
#[derive(Clone, Debug)]
pub struct Profile {
	/// Preparing the model (checking, typing, optimising it) in a fresh instance.
	pub prepare: Duration,
	/// Fuel of preparing it.
	pub fuel_to_prepare: u64,
	/// Bytes of its snapshot (what each run writes over a fresh instance).
	pub snapshot_bytes: usize,
	/// Fuel of a run (the same for every run of the same input).
	pub fuel_per_run: u64,
	/// Each run's phases.
	pub runs: Vec<RunTimes>,
	/// Each run's nodes, in the order they ran: empty unless the guest is a profiling one.
	pub nodes: Vec<Vec<NodeTime>>,
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn starts_and_ends_pair_up_into_node_times() {
		let at = Instant::now();
		let mark = |node, op: Option<&str>, after_us, fuel_left| NodeMark {
			node,
			op: op.map(str::to_owned),
			at: at + Duration::from_micros(after_us),
			fuel_left,
		};
		let marks = [
			mark(3, Some("Conv"), 0, 1000),
			mark(3, None, 40, 700),
			mark(5, Some("Relu"), 41, 690),
			mark(5, None, 45, 650),
		];
		assert_eq!(
			node_times(&marks),
			Some(vec![
				NodeTime { node: 3, op: "Conv".into(), time: Duration::from_micros(40), fuel: 300 },
				NodeTime { node: 5, op: "Relu".into(), time: Duration::from_micros(4), fuel: 40 },
			])
		);
		// A run that trapped inside node 5 left a start without its end.
		assert_eq!(node_times(&marks[..3]), None);
		// An end without its start.
		assert_eq!(node_times(&marks[1..3]), None);
	}
}
