//! What the engine reports of its work as it does it: the node turns these reports into its
//! Prometheus metrics. Reports are made after the work, never change it, and cost a clock read.

use veriml_inference_interface::Lane;
use veriml_inference_primitives::{EngineGuest, ModelHash, RunError};

/// Which of the engine's entry points did the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
	/// Checking a model and measuring its fuel (registering a model, or an engine upgrade's
	/// re-check of the registered ones).
	Inspect,
	/// Running a model on inputs (a node's own inference, or a complete node re-executing one).
	Run,
}

/// One call of the engine, as it ended.
#[derive(Debug)]
pub struct Call<'a> {
	pub work: Work,
	pub lane: Lane,
	/// The model's content hash.
	pub model: ModelHash,
	/// The fuel the call used (of the run, for an inspection), or how it failed.
	pub outcome: Result<u64, &'a RunError>,
	/// Wall-clock time of the whole call, preparation included.
	pub seconds: f64,
}

/// Receives the engine's reports. Implementations must be cheap and must not block: they are
/// called on the threads that import blocks.
pub trait Observer: Send + Sync {
	/// An [`Engine`](crate::Engine) call ended.
	fn call(&self, call: &Call<'_>);

	/// A run found its model prepared for its input specs (`true`), or prepared it first.
	fn prepared_cache(&self, lane: Lane, hit: bool);

	/// Guest `guest` became ready to run (`Ok`) or could not (`Err`) after `seconds`; its
	/// machine code came from the compiled-code cache, or was compiled now.
	fn guest_loaded(&self, guest: &EngineGuest, from_compiled_cache: bool, ready: bool, seconds: f64);
}
