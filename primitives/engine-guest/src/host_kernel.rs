//! tract's f32 matrix-multiplication kernel, run by the host.
//!
//! Convolutions and matrix products spend nearly all their time in tract's kernel: for each
//! 8×8 tile of the output, a multiply-accumulate loop over the shared dimension and a few fused
//! operations (bias, activation, store). Under wasm that runs on 4-lane SIMD with NaN
//! canonicalisation; the host runs it on the CPU's widest vectors. The guest translates tract's
//! kernel program into a [`HostOp`] program whose every operation has exactly the semantics of
//! tract's own `wasm_f32_8x8` kernel under wasm (see `veriml_inference_primitives::host_kernel`),
//! so the output bits are the same as if the guest had run it, on every CPU.
//!
//! A program the layout cannot express goes to tract's `wasm_f32_8x8` whole: same bits.
//! [`veriml_check_host_kernel`] runs random programs both ways and counts the differences; the
//! engine's tests and the node's start-up call it.

use tract_linalg::{
	isa::Arch,
	mmm::{DynKernel, FusedKerSpec, MatMatMulKer, OutputStoreKer, Query, Suitable},
	mmm_routines::MmmRoutine,
	mmm_tiers::MmmTier,
	wasm::wasm_f32_8x8,
	Scaler,
};
use tract_onnx::prelude::DatumType;
use veriml_inference_primitives::{guest::CHECK_FLUSHED_BIT, host_kernel::*};

/// The kernel's name in tract's registry.
pub const HOST_KERNEL_NAME: &str = "veriml_host_f32_8x8";

#[link(wasm_import_module = "veriml")]
extern "C" {
	/// Runs the program of `len` [`HostOp`]s at `ops`. Charges fuel for the work and traps when
	/// the fuel runs out, an address lies outside memory or the program is malformed.
	fn run_tile_program(ops: *const HostOp, len: u32);
	/// The float mode this call runs in: 1 where subnormals are flushed, 0 where IEEE
	/// (`guest::FLOAT_MODE_IMPORT`).
	fn float_mode() -> u32;
}

/// `tract`'s program as a [`HostOp`] program, or `None` where the layout cannot express it.
pub(crate) fn translate(program: &[FusedKerSpec<f32>], ops: &mut [HostOp; MAX_PROGRAM_OPS]) -> Option<usize> {
	let op = |code: u32, x: u32, y: u32, z: u32| HostOp { code, x, y, z };
	let addr = |p: *const f32| p as usize as u32;
	let stride = |s: isize| s as i32 as u32;
	let mut len = 0;
	for spec in program {
		let next = match *spec {
			FusedKerSpec::Done => break,
			FusedKerSpec::Clear => op(OP_CLEAR, 0, 0, 0),
			FusedKerSpec::LoadTile(_col_major, row_major) => op(OP_LOAD_TILE, addr(row_major), 0, 0),
			FusedKerSpec::ScalarMin(s) => op(OP_SCALAR_MIN, s.to_bits(), 0, 0),
			FusedKerSpec::ScalarMax(s) => op(OP_SCALAR_MAX, s.to_bits(), 0, 0),
			FusedKerSpec::ScalarAdd(s) => op(OP_SCALAR_ADD, s.to_bits(), 0, 0),
			FusedKerSpec::ScalarMul(s) => op(OP_SCALAR_MUL, s.to_bits(), 0, 0),
			FusedKerSpec::ScalarSub(s) => op(OP_SCALAR_SUB, s.to_bits(), 0, 0),
			FusedKerSpec::ScalarSubF(s) => op(OP_SCALAR_SUB_F, s.to_bits(), 0, 0),
			FusedKerSpec::LeakyRelu(s) => op(OP_LEAKY_RELU, s.to_bits(), 0, 0),
			// The scales tract's kernel computes in the guest, then multiplies by.
			FusedKerSpec::QScale(shift, policy, mult) =>
				op(OP_SCALAR_MUL, Scaler::from_fuse_params(shift, policy, mult).scale.to_bits(), 0, 0),
			FusedKerSpec::RoundingShiftRight(shift, _) =>
				op(OP_SCALAR_MUL, 2f32.powi(-(shift as i32)).to_bits(), 0, 0),
			FusedKerSpec::ShiftLeft(shift) => op(OP_SCALAR_MUL, 2f32.powi(shift as i32).to_bits(), 0, 0),
			FusedKerSpec::PerRowMin(p) => op(OP_PER_ROW_MIN, addr(p), 0, 0),
			FusedKerSpec::PerRowMax(p) => op(OP_PER_ROW_MAX, addr(p), 0, 0),
			FusedKerSpec::PerRowAdd(p) => op(OP_PER_ROW_ADD, addr(p), 0, 0),
			FusedKerSpec::PerRowMul(p) => op(OP_PER_ROW_MUL, addr(p), 0, 0),
			FusedKerSpec::PerRowSub(p) => op(OP_PER_ROW_SUB, addr(p), 0, 0),
			FusedKerSpec::PerRowSubF(p) => op(OP_PER_ROW_SUB_F, addr(p), 0, 0),
			FusedKerSpec::PerColMin(p) => op(OP_PER_COL_MIN, addr(p), 0, 0),
			FusedKerSpec::PerColMax(p) => op(OP_PER_COL_MAX, addr(p), 0, 0),
			FusedKerSpec::PerColAdd(p) => op(OP_PER_COL_ADD, addr(p), 0, 0),
			FusedKerSpec::PerColMul(p) => op(OP_PER_COL_MUL, addr(p), 0, 0),
			FusedKerSpec::PerColSub(p) => op(OP_PER_COL_SUB, addr(p), 0, 0),
			FusedKerSpec::PerColSubF(p) => op(OP_PER_COL_SUB_F, addr(p), 0, 0),
			FusedKerSpec::AddUnicast(tile) if tile.item_size == 4 => op(
				OP_ADD_UNICAST,
				tile.ptr as usize as u32,
				stride(tile.row_byte_stride),
				stride(tile.col_byte_stride),
			),
			FusedKerSpec::AddRowColProducts(rows, cols) =>
				op(OP_ADD_ROW_COL_PRODUCTS, addr(rows), addr(cols), 0),
			FusedKerSpec::Store(tile) if tile.item_size == 4 => op(
				OP_STORE,
				tile.ptr as usize as u32,
				stride(tile.row_byte_stride),
				stride(tile.col_byte_stride),
			),
			FusedKerSpec::AddMatMul { k, pa, pb, packing: 0 } =>
				op(OP_ADD_MAT_MUL, u32::try_from(k).ok()?, pa as usize as u32, pb as usize as u32),
			_ => return None,
		};
		// One place kept for the closing `DONE`.
		if len + 1 >= MAX_PROGRAM_OPS {
			return None
		}
		ops[len] = next;
		len += 1;
	}
	ops[len] = op(OP_DONE, 0, 0, 0);
	Some(len + 1)
}

/// Runs `program` on the host if its layout can express it; `false` where it cannot.
fn run_on_host(program: &[FusedKerSpec<f32>]) -> bool {
	let mut ops = [HostOp::default(); MAX_PROGRAM_OPS];
	let Some(len) = translate(program, &mut ops) else { return false };
	unsafe { run_tile_program(ops.as_ptr(), len as u32) };
	true
}

/// Runs one kernel program on the host, or on tract's kernel where it cannot be translated.
unsafe fn kernel(program: &[FusedKerSpec<f32>]) -> isize {
	if run_on_host(program) {
		0
	} else {
		wasm_f32_8x8.kernel(program)
	}
}

/// The kernel, with the very packings of tract's `wasm_f32_8x8`, whose semantics it keeps.
pub(crate) fn make_kernel() -> DynKernel<TILE_ROWS, TILE_COLS, f32> {
	let tract_kernel = &*wasm_f32_8x8;
	let mut kernel = DynKernel::<TILE_ROWS, TILE_COLS, f32>::new(
		HOST_KERNEL_NAME,
		kernel,
		tract_kernel.regular_pack_a(),
		tract_kernel.regular_pack_b(),
	);
	kernel.arch = Some(Arch::Wasm32Simd128);
	kernel
}

// Registered as the driver that hands whole products to the host (`mat_mul`), over this
// kernel's tiles.
inventory::submit! {
	MmmRoutine { make: || Box::new(crate::mat_mul::HostMatMul::new(make_kernel())) }
}

/// Every f32 matrix product with more than one column goes to the host kernel; matrix-vector
/// products keep tract's own kernels.
fn preferred(
	_isa: &tract_linalg::isa::IsaSet,
	accumulator: DatumType,
	query: &Query,
	_suitable: &[Suitable],
) -> Option<&'static str> {
	(accumulator == DatumType::F32 && query.n != Some(1)).then_some(HOST_KERNEL_NAME)
}

inventory::submit! {
	MmmTier {
		arch: Some(Arch::Wasm32Simd128),
		// Above tract's own wasm tier (1).
		precedence: 2,
		name: "veriml-host",
		applies: |_| true,
		preferred,
	}
}

/// A small deterministic generator for the self-check.
pub(crate) struct Lcg(u64);

impl Lcg {
	fn next(&mut self) -> u32 {
		self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
		(self.0 >> 33) as u32
	}

	pub(crate) fn below(&mut self, n: u32) -> u32 {
		self.next() % n
	}

	/// Ordinary values mostly, and every value where float rules differ: ±0, ±∞, NaNs with
	/// payloads and either sign, subnormals of either sign (which a run of engine version 15
	/// reads as zeros of their sign: two compare equal, and equal to ±0), and values whose sums
	/// and products round.
	pub(crate) fn value(&mut self) -> f32 {
		match self.below(16) {
			0 => 0.0,
			1 => -0.0,
			2 => f32::INFINITY,
			3 => f32::NEG_INFINITY,
			4 => f32::from_bits(0x7fc0_0000 | self.below(1 << 22)),
			5 => f32::from_bits(0xffc0_0000 | self.below(1 << 22)),
			6 => f32::from_bits(self.below(1 << 23) | self.below(2) << 31),
			7 => f32::MAX,
			_ => (self.next() as f32 / u32::MAX as f32 - 0.5) * 1.0e3 + 1.0 / 3.0,
		}
	}

	fn values(&mut self, n: usize) -> Vec<f32> {
		(0..n).map(|_| self.value()).collect()
	}
}

/// The start-up checks' loop over whole operations: draws up to four times `problems` problems
/// with `draw`, which answers the host's output and tract's for one, or `None` where tract
/// refuses it or the host does not take it, until `problems` are answered; answers how many of
/// those gave another shape or another bit, and counts each of the `problems` never answered
/// as one more (a check that checked too little fails).
pub(crate) fn count_differing(
	rng: &mut Lcg,
	problems: u32,
	mut draw: impl FnMut(&mut Lcg) -> Option<(tract_onnx::prelude::Tensor, tract_onnx::prelude::Tensor)>,
) -> u32 {
	let (mut differing, mut checked) = (0, 0);
	for _ in 0..problems.saturating_mul(4) {
		if checked == problems {
			break;
		}
		let Some((on_host, by_tract)) = draw(rng) else { continue };
		checked += 1;
		let bits = |t: &tract_onnx::prelude::Tensor| t.try_as_plain_ram().ok().and_then(|p| p.as_slice::<f32>().ok().map(|s| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>()));
		if on_host.shape() != by_tract.shape() || bits(&on_host) != bits(&by_tract) {
			differing += 1;
		}
	}
	differing + (problems - checked)
}

/// One random tract program over freshly made operands, and the buffer its stores write to.
fn random_program(rng: &mut Lcg, operands: &mut Vec<Vec<f32>>) -> Vec<FusedKerSpec<f32>> {
	let mut program = Vec::new();
	let mut vector = |rng: &mut Lcg, n: usize| {
		operands.push(rng.values(n));
		operands.last().expect("just pushed").as_ptr()
	};
	let store = |ptr: *const f32, transposed: bool| OutputStoreKer {
		ptr: ptr as *mut u8,
		row_byte_stride: if transposed { 4 } else { 32 },
		col_byte_stride: if transposed { 32 } else { 4 },
		item_size: 4,
	};
	for _ in 0..rng.below(12) + 1 {
		let spec = match rng.below(27) {
			0 => FusedKerSpec::Clear,
			1 => {
				let tile = vector(rng, 64);
				FusedKerSpec::LoadTile(tile, tile)
			},
			2 => FusedKerSpec::ScalarMin(rng.value()),
			3 => FusedKerSpec::ScalarMax(rng.value()),
			4 => FusedKerSpec::ScalarAdd(rng.value()),
			5 => FusedKerSpec::ScalarMul(rng.value()),
			6 => FusedKerSpec::ScalarSub(rng.value()),
			7 => FusedKerSpec::ScalarSubF(rng.value()),
			8 => FusedKerSpec::LeakyRelu(rng.value()),
			9 => FusedKerSpec::PerRowMin(vector(rng, 8)),
			10 => FusedKerSpec::PerRowMax(vector(rng, 8)),
			11 => FusedKerSpec::PerRowAdd(vector(rng, 8)),
			12 => FusedKerSpec::PerRowMul(vector(rng, 8)),
			13 => FusedKerSpec::PerRowSub(vector(rng, 8)),
			14 => FusedKerSpec::PerRowSubF(vector(rng, 8)),
			15 => FusedKerSpec::PerColMin(vector(rng, 8)),
			16 => FusedKerSpec::PerColMax(vector(rng, 8)),
			17 => FusedKerSpec::PerColAdd(vector(rng, 8)),
			18 => FusedKerSpec::PerColMul(vector(rng, 8)),
			19 => FusedKerSpec::PerColSub(vector(rng, 8)),
			20 => FusedKerSpec::PerColSubF(vector(rng, 8)),
			21 => FusedKerSpec::AddUnicast(store(vector(rng, 64), rng.below(2) == 1)),
			22 => FusedKerSpec::AddRowColProducts(vector(rng, 8), vector(rng, 8)),
			23 => FusedKerSpec::ShiftLeft(rng.below(8) as usize),
			24 => FusedKerSpec::Store(store(vector(rng, 64), rng.below(2) == 1)),
			_ => {
				let k = rng.below(40) as usize;
				let (pa, pb) = (vector(rng, 8 * k), vector(rng, 8 * k));
				FusedKerSpec::AddMatMul { k, pa: pa as *const u8, pb: pb as *const u8, packing: 0 }
			},
		};
		program.push(spec);
	}
	program.push(FusedKerSpec::Store(store(vector(rng, 64), false)));
	program.push(FusedKerSpec::Done);
	program
}

/// Runs `programs` random kernel programs (from `seed`) on tract's `wasm_f32_8x8` and on the
/// host, and as many random LRNs, max pools, whole products, depthwise convolutions,
/// element-wise chains and im2cols in wasm and on the host (`lrn::check`, `max_pool::check`,
/// `mat_mul::check`, `depthwise::check`, `bin_chain::check`, `im2col::check`), and answers how
/// many gave a different bit. The host is sound only if it is 0. The answer's top bit
/// (`guest::CHECK_FLUSHED_BIT`) is the float mode the checks ran in (`float_mode`), which the
/// host compares with the one the guest's version requires.
#[no_mangle]
pub extern "C" fn veriml_check_host_kernel(seed: u32, programs: u32) -> u32 {
	let mut rng = Lcg(u64::from(seed) + 1);
	let mut differing = crate::lrn::check(&mut rng, programs) +
		crate::max_pool::check(&mut rng, programs) +
		crate::mat_mul::check(&mut rng, programs) +
		crate::depthwise::check(&mut rng, programs) +
		crate::bin_chain::check(&mut rng, programs) +
		crate::im2col::check(&mut rng, programs);
	for _ in 0..programs {
		let mut operands = Vec::new();
		let program = random_program(&mut rng, &mut operands);
		// The stores' buffers are among the operands: run once, keep them, restore, run again.
		let before = operands.clone();
		wasm_f32_8x8.kernel(&program);
		let by_tract = operands.clone();
		for (operand, original) in operands.iter_mut().zip(&before) {
			operand.copy_from_slice(original);
		}
		assert!(run_on_host(&program), "random programs are short enough to translate");
		let bits = |v: &Vec<Vec<f32>>| v.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>();
		if bits(&operands) != bits(&by_tract) {
			differing += 1;
		}
	}
	// SAFETY: an import of no arguments.
	let flushed = unsafe { float_mode() } == 1;
	differing.min(!CHECK_FLUSHED_BIT) | if flushed { CHECK_FLUSHED_BIT } else { 0 }
}
