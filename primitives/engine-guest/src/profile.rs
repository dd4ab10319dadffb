//! The guest built for profiling (`--features profile`, `scripts/profile-engine.sh`): a run
//! reports the start and end of every node of the plan to the host, which reads the clock and
//! the fuel left at each, so time and fuel can be told per operator. Never in the chain's guest:
//! the engine defines the import only when it is built to profile
//! (`veriml_engine::Engine::with_profiling`), and a guest that imports it fails to link in any
//! other engine.

use tract_onnx::prelude::*;

#[link(wasm_import_module = "veriml")]
extern "C" {
	/// Node `node` of the plan starts (`op_len` bytes of its operator's name at `op_ptr`), or
	/// ends (`op_len` = `u32::MAX`).
	fn profile_node(node: u32, op_ptr: *const u8, op_len: u32);
}

/// Runs `plan` on `values` as `SimplePlan::run` does, every node's evaluation between two
/// reports to the host.
pub fn run(plan: &super::Plan, values: TVec<TValue>) -> TractResult<TVec<TValue>> {
	let mut state = plan.spawn()?;
	state.run_plan_with_eval(values, |context, op_state, node, inputs| {
		let op = node.op().name();
		unsafe { profile_node(node.id as u32, op.as_ptr(), op.len() as u32) };
		let outputs = tract_onnx::tract_core::plan::eval(context, op_state, node, inputs);
		unsafe { profile_node(node.id as u32, core::ptr::null(), u32::MAX) };
		outputs
	})
}
