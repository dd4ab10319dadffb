//! What one model and one inference may use. Every limit that can refuse an inference is a
//! fixed number, the same on every node, so refusals are deterministic too.

/// Limits of the engine.
#[derive(Clone, Debug)]
pub struct Limits {
	/// Largest model file accepted.
	pub max_model_bytes: usize,
	/// Largest total size of one inference's input tensors.
	pub max_input_bytes: usize,
	/// Largest total size of one inference's outputs.
	pub max_output_bytes: usize,
	/// Linear memory the guest may grow to, for preparation and for each run.
	pub max_memory_bytes: usize,
	/// Fuel (roughly, wasm instructions) preparing a model may use.
	pub max_fuel_to_prepare: u64,
	/// Fuel one inference may use at most, whatever the caller asks.
	pub max_fuel_per_run: u64,
	/// Bytes of prepared-model snapshots kept in memory.
	pub cache_bytes: usize,
	/// Threads one run's host kernels may use at once, the calling thread included: a large
	/// whole matrix product is split between them, each element computed by one thread in the
	/// same order as on one (`host_kernel::run_mat_mul`); the runs of a lane share a pool of
	/// `threads - 1` besides their own. This node's choice, never a limit: it
	/// changes no output, no fuel and no refusal, only time. 1 (the default), or 0, runs
	/// everything on the calling thread.
	pub threads: usize,
}

impl Default for Limits {
	fn default() -> Self {
		Self {
			// The chain's largest model (`MaxStoredModelBytes`, 100 MiB) and room to raise it.
			max_model_bytes: 128 * 1024 * 1024,
			max_input_bytes: 16 * 1024 * 1024,
			max_output_bytes: 16 * 1024 * 1024,
			max_memory_bytes: 1024 * 1024 * 1024,
			max_fuel_to_prepare: 200_000_000_000,
			max_fuel_per_run: 200_000_000_000,
			cache_bytes: 1024 * 1024 * 1024,
			threads: 1,
		}
	}
}
