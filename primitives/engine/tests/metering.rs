//! The engine's work that grows with its operands is paid for in fuel: the guest's bulk memory
//! instructions (metered at build time), its memory growth, and the restore of a prepared
//! model's snapshot. Needs the test models: scripts/models/make-test-models.sh.

mod common;

use common::*;
use veriml_engine::{built_in_guest, guest_hash, identify_guest, metering, GUEST_WASM};
use veriml_inference_primitives::{
	guest, metering::fuel_for_memory, onnx_builder::embedding_model, window::Window, DType, EngineError, EngineGuest,
	Tensor, ENGINE_VERSION,
};

const FUEL: u64 = 200_000_000_000;
const MIB: u64 = 1024 * 1024;

#[test]
fn the_guest_is_metered_and_is_the_pinned_reproducible_build() {
	metering::check_metered(GUEST_WASM).unwrap();
	let pinned = include_str!("../guest.blake2").trim();
	assert_eq!(
		format!("{:?}", guest_hash()),
		pinned,
		"the engine guest's bytes are not the pinned build: if the guest or the primitives changed \
		 on purpose, run scripts/build-engine-guest.sh --pin (and raise ENGINE_VERSION if outputs or \
		 fuel can change)"
	);
}

#[test]
fn every_bulk_instruction_of_the_built_guest_is_metered() {
	let built = std::fs::read(env!("VERIML_ENGINE_GUEST_UNMETERED_WASM")).unwrap();
	// rustc's guest does use them (std's copies, the allocator's growth), unmetered...
	assert!(metering::check_metered(&built).is_err());
	// ...and the build replaced every one, once and for all.
	let metered = metering::meter(&built).unwrap();
	metering::check_metered(&metered).unwrap();
	assert_eq!(metering::meter(&metered).unwrap(), metered);
	// What the engine is built with also declares its engine version.
	assert_eq!(metering::declare_version(&metered, ENGINE_VERSION).unwrap(), GUEST_WASM);
}

#[test]
fn stored_guest_bytes_are_identified_by_their_wasm_and_declared_version() {
	let compressed = sp_maybe_compressed_blob::compress_weakly(GUEST_WASM, guest::MAX_GUEST_BYTES).unwrap();
	assert!(compressed.len() < GUEST_WASM.len() / 3);
	// Compressed or plain, the same guest: the hash is of the wasm.
	for code in [&compressed[..], GUEST_WASM] {
		let (identity, wasm) = identify_guest(code).unwrap();
		assert_eq!(identity, built_in_guest());
		assert_eq!(identity, EngineGuest { hash: guest_hash(), version: ENGINE_VERSION });
		assert_eq!(wasm, GUEST_WASM);
	}
	// The same code declaring another version is another guest.
	let next = metering::declare_version(GUEST_WASM, ENGINE_VERSION + 1).unwrap();
	let (identity, _) = identify_guest(&next).unwrap();
	assert_eq!(identity.version, ENGINE_VERSION + 1);
	assert_ne!(identity.hash, guest_hash());
	// Refused: not wasm, a guest whose bulk instructions are not metered, one without a version.
	assert!(identify_guest(b"not a guest").is_err());
	let unmetered = std::fs::read(env!("VERIML_ENGINE_GUEST_UNMETERED_WASM")).unwrap();
	assert!(identify_guest(&unmetered).unwrap_err().contains("unmetered"));
	let metered = metering::meter(&unmetered).unwrap();
	assert!(identify_guest(&metered).unwrap_err().contains("no engine version"));
}

#[test]
fn memory_work_is_charged_by_the_byte() {
	let engine = new_engine();
	// A model of a few hundred bytes that pads a 1x1 input to 64 MiB and returns one corner:
	// under engine version 2 one run cost 11 µs of fuel and took 29 ms.
	let (pad, inputs) = adversarial("pad_64mib");
	let fuel = engine.run_model(&pad, &inputs, FUEL).unwrap().fuel_used;
	assert!(fuel >= fuel_for_memory(64 * MIB, 64 * MIB), "{fuel}");
	// The same bytes concatenated from a 256 KiB row pay alike.
	let (concat, inputs) = adversarial("concat_64mib");
	let fuel = engine.run_model(&concat, &inputs, FUEL).unwrap().fuel_used;
	assert!(fuel >= fuel_for_memory(64 * MIB, 64 * MIB), "{fuel}");
}

#[test]
fn a_max_pool_runs_on_the_host_and_pays_for_every_tap_before_it_runs() {
	use veriml_inference_primitives::max_pool::MaxPoolCall;
	let engine = new_engine();
	// SqueezeNet's pool (3×3, stride 2, a padding of 1) over four planes of 1024×1024 made by an
	// Expand of a 1×1 input (1.5), one corner back. Under engine version 7 tract's walk ran it in
	// wasm for 427 M fuel; on the host the pool costs its taps' fuel, and the run about 107 M.
	let (pool, inputs) = adversarial("max_pool_3x3s2_16mib");
	let run = engine.run_model(&pool, &inputs, FUEL).unwrap();
	assert_eq!(run.outputs, vec![Tensor::from_f32(&[1, 1, 1, 1], &[1.5])]);
	let call = MaxPoolCall { window: window_3x3_stride_2(4, 1024), ..Default::default() };
	let pool_fuel = call.fuel().unwrap();
	assert!(
		run.fuel_used > pool_fuel && run.fuel_used < 3 * pool_fuel,
		"{} against the pool's {pool_fuel}",
		run.fuel_used
	);
	// A limit that leaves less than the pool's fuel stops the run at the pool, every time.
	stops_within(&engine, &pool, &inputs, run.fuel_used, pool_fuel);
}

#[test]
fn a_depthwise_convolution_runs_on_the_host_and_pays_for_every_tap_before_it_runs() {
	use veriml_inference_primitives::depthwise::DepthwiseCall;
	let engine = new_engine();
	// ShuffleNet's downsampling depthwise convolution (3×3, stride 2, a padding of 1) over 16
	// planes of 512×512 made by an Expand of a 1×1 input (1.5), kernel taps of 0.25 and a bias
	// of 0.5, reduced to its largest element: 0.5 + 9 · 0.375 = 3.875. On the host the
	// convolution costs its taps' fuel, in one call.
	let (convolution, inputs) = adversarial("depthwise_3x3s2_16mib");
	let run = engine.run_model(&convolution, &inputs, FUEL).unwrap();
	assert_eq!(run.outputs, vec![Tensor::from_f32(&[1, 1, 1, 1], &[3.875])]);
	let call = DepthwiseCall { channels: 16, window: window_3x3_stride_2(16, 512), ..Default::default() };
	let convolution_fuel = call.fuel().unwrap();
	assert!(
		run.fuel_used > convolution_fuel && run.fuel_used < 3 * convolution_fuel,
		"{} against the convolution's {convolution_fuel}",
		run.fuel_used
	);
	// A limit that leaves less than the convolution's fuel stops the run there, every time.
	stops_within(&engine, &convolution, &inputs, run.fuel_used, convolution_fuel);
}

#[test]
fn an_element_wise_chain_runs_on_the_host_and_pays_for_every_step_before_it_runs() {
	use veriml_inference_primitives::bin_chain::{BinChainCall, ChainOp, ChainStep, Share};
	let engine = new_engine();
	// 24 multiplies by 0.999 and adds of 0.0015 (a batch normalisation's steps, by a constant
	// per row) over 16 rows of 2^20 made by an Expand of a 1×1 input (1.5): one chain of 24
	// steps (tract's optimiser grows a chain past sixteen), handed to the host in two calls of
	// 16 and 8 steps, reduced to its largest element.
	let (chain, inputs) = adversarial("bin_chain_24_steps_64mib");
	let run = engine.run_model(&chain, &inputs, FUEL).unwrap();
	let (scale, shift) = (0.999f32, (1.5f64 * 1.0e-3) as f32);
	let expected = (0..24).fold(1.5f32, |v, i| if i % 2 == 0 { v * scale } else { v + shift });
	assert_eq!(run.outputs, vec![Tensor::from_f32(&[1, 1], &[expected])]);
	let call = |count: u32| {
		let mut call = BinChainCall { elements: 16 << 20, count, ..Default::default() };
		for (i, step) in call.steps.iter_mut().enumerate() {
			let op = if i % 2 == 0 { ChainOp::Mul } else { ChainOp::Add };
			*step = ChainStep { op: op as u32, b: 0, b_elements: 16, share: Share::PerBlock as u32 };
		}
		call.fuel().unwrap()
	};
	let chain_fuel = call(16) + call(8);
	assert!(
		run.fuel_used > chain_fuel && run.fuel_used < 2 * chain_fuel,
		"{} against the chain's {chain_fuel}",
		run.fuel_used
	);
	// A limit that leaves less than the chain's fuel stops the run there, every time.
	stops_within(&engine, &chain, &inputs, run.fuel_used, chain_fuel);
}

/// SqueezeNet's pool window and ShuffleNet's depthwise one (3×3, stride 2, a padding of 1) over
/// `planes` planes of `side × side`.
fn window_3x3_stride_2(planes: u32, side: u32) -> Window {
	Window {
		planes,
		height: side,
		width: side,
		out_height: side / 2,
		out_width: side / 2,
		kernel_height: 3,
		kernel_width: 3,
		stride_height: 2,
		stride_width: 2,
		dilation_height: 1,
		dilation_width: 1,
		pad_top: 1,
		pad_left: 1,
	}
}

/// A run of `model` that used `used` fuel stops, in a warm engine and a fresh one, under a limit
/// half of `part` short of it, and runs whole with `used`: the limit falls inside `part`.
fn stops_within(engine: &veriml_engine::Engine, model: &[u8], inputs: &[Tensor], used: u64, part: u64) {
	let short = used - part / 2;
	assert_eq!(engine.run_model(model, inputs, short), Err(EngineError::FuelExhausted.into()));
	assert_eq!(new_engine().run_model(model, inputs, short), Err(EngineError::FuelExhausted.into()));
	assert_eq!(engine.run_model(model, inputs, used).unwrap().fuel_used, used);
}

#[test]
fn a_matrix_product_runs_whole_on_the_host_and_pays_for_every_tile_before_it_runs() {
	let engine = new_engine();
	// A 4096×1 by 1×4096 product (a 1×1 input of 1 padded with 0.5), its 64 MiB reduced to its
	// largest element: 262,144 tiles of 8×8 of one step each, handed to the host in one call.
	let (product, inputs) = adversarial("matmul_k1_64mib");
	let run = engine.run_model(&product, &inputs, FUEL).unwrap();
	assert_eq!(run.outputs, vec![Tensor::from_f32(&[1, 1], &[1.0])]);
	// Each tile pays its program (clear, one step, store: 16 each, 16 the step and 256 the
	// store's bytes) and 8 for its place: 328, where version 8 charged 128 a tile.
	let product_fuel = 64 + 512 * 512 * 328;
	assert!(run.fuel_used > product_fuel, "{} against the product's {product_fuel}", run.fuel_used);
	// A limit that leaves less than the product's fuel stops the run there, every time.
	stops_within(&engine, &product, &inputs, run.fuel_used, product_fuel);
}

#[test]
fn a_fuel_limit_below_the_memory_work_stops_the_run_the_same_way_every_time() {
	let engine = new_engine();
	let (pad, inputs) = adversarial("pad_64mib");
	let fuel = engine.run_model(&pad, &inputs, FUEL).unwrap().fuel_used;
	// (wasmtime checks fuel at function entries and loop heads, so a limit a few units short of
	// the total may still pass the last check: where the run stops is set by the compiled code,
	// the same on every node, not by the exact last unit.)
	for limit in [fuel * 9 / 10, fuel / 2, fuel_for_memory(0, 16 * MIB)] {
		assert_eq!(engine.run_model(&pad, &inputs, limit), Err(EngineError::FuelExhausted.into()), "{limit}");
	}
	assert_eq!(engine.run_model(&pad, &inputs, fuel).unwrap().fuel_used, fuel);
	assert_eq!(new_engine().run_model(&pad, &inputs, fuel).unwrap().fuel_used, fuel);
}

#[test]
fn a_model_of_100_mib_prepares_and_runs_for_at_most_seven_fuel_a_byte() {
	// The guest holds the weights at most twice while preparing (version 6 held them four
	// times: 12 fuel a byte to prepare and as much again to restore for every run), so a
	// 100 MiB model's preparation and its runs each stay within a registration's fuel limit
	// (1.25·10^9 in the runtime).
	// Weights that are not zero (a snapshot's zero blocks cost nothing to restore).
	let table: Vec<u8> = (0..25_600 * 1024 * 4).map(|i| (i % 251) as u8 | 1).collect();
	let model = embedding_model(25_600, 1024, &table, 4);
	let len = model.len() as u64;
	assert!(len >= 100 * MIB, "{len}");
	let engine = new_engine();
	let rows = Tensor {
		dtype: DType::I64,
		shape: vec![4],
		data: [3i64, 0, 25_599, 7].iter().flat_map(|i| i.to_le_bytes()).collect(),
	};
	let info = engine.inspect_model(&model, &[rows.spec().unwrap()], FUEL).unwrap();
	let per_byte = |fuel: u64| fuel as f64 / len as f64;
	assert!(info.fuel_to_prepare <= 7 * len, "preparing: {:.1} fuel a byte", per_byte(info.fuel_to_prepare));
	assert!(info.fuel_per_run <= 7 * len, "a run: {:.1} fuel a byte", per_byte(info.fuel_per_run));
	// And it computes: row 25 599 of the table is the third row out.
	let run = engine.run_model(&model, &[rows], FUEL).unwrap();
	assert_eq!(run.fuel_used, info.fuel_per_run);
	assert_eq!(run.outputs[0].data[2 * 4096..3 * 4096], table[25_599 * 4096..]);
}
