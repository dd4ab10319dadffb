//! The host side of the guest's matrix kernel (`primitives/engine-guest/src/host_kernel.rs`):
//! runs the tile programs the guest hands over, with the semantics
//! `veriml_inference_primitives::host_kernel` defines; and of its `LRN` (`lrn.rs` there), with
//! the bits of `veriml_inference_primitives::lrn`'s function (this crate's `lrn`).
//!
//! The multiply-accumulate loop computes, for each element of the tile and each step `s` in
//! order, `tile[i][j] = tile[i][j] + a[s][i] * b[s][j]`: one IEEE multiply rounded to f32, then
//! one IEEE add rounded to f32. Never fused (Rust contracts nothing on its own, and the AVX path
//! uses separate multiply and add instructions), never reordered. Lanes are independent, so the
//! 8-lane AVX path, the 4-lane SSE2 or NEON code the compiler makes of the portable loop, and a
//! scalar loop all give the same bits: the bits of wasm's own `f32x4.mul` and `f32x4.add`.
//! Every arithmetic NaN is written as the canonical NaN, as the guest's NaN canonicalisation
//! would.

use crate::{
	bin_chain::{bin_chain_f32, Step},
	depthwise::depthwise_f32,
	im2col::im2col_f32,
	lrn::lrn_f32,
	max_pool::max_pool_f32,
};
use veriml_inference_primitives::{
	bin_chain::{BinChainCall, ChainOp, BIN_CHAIN_CALL_WORDS},
	depthwise::{DepthwiseCall, DEPTHWISE_CALL_BYTES},
	host_kernel::*,
	im2col::{Im2colCall, IM2COL_CALL_BYTES},
	lrn::{LrnCall, LRN_CALL_BYTES},
	max_pool::{MaxPoolCall, MAX_POOL_CALL_BYTES},
};

const MR: usize = TILE_ROWS;
const NR: usize = TILE_COLS;
const TILE: usize = MR * NR;
const STEP_BYTES: usize = MR * 4;

/// Fuel charged for one program, whatever its length: the host call and the program's decoding.
pub const FUEL_PER_PROGRAM: u64 = 64;
/// Fuel charged per operation on the whole tile.
pub const FUEL_PER_TILE_OP: u64 = 16;
/// Fuel charged besides for an operation that reads or writes a tile of guest memory
/// (`ADD_UNICAST`, `STORE`) whose rows are contiguous: its 256 bytes, at the guest's own rate
/// for the bytes it moves (`metering::FUEL_PER_BYTE_MOVED`). See [`fuel_moved`].
pub const FUEL_PER_TILE_MOVED: u64 = 256 * veriml_inference_primitives::metering::FUEL_PER_BYTE_MOVED;

/// The fuel for the memory a tile operation of byte strides `rows` and `cols` reads or writes:
/// [`FUEL_PER_TILE_MOVED`] where its rows are contiguous (`cols` 4), twice that where its
/// columns are, 8 times where neither is (each element may be a cache line and a page of its
/// own). A product with a short shared dimension is as fast as its output's memory: a tile of
/// one step took 50 ns over a row-major 4096 × 4096 output, 100 over a column-major one and
/// 170–290 over outputs whose elements are each 64 bytes or a page apart (2026-12-05).
pub fn fuel_moved(rows: u32, cols: u32) -> u64 {
	FUEL_PER_TILE_MOVED
		* if cols == 4 {
			1
		} else if rows == 4 {
			2
		} else {
			8
		}
}
/// Fuel charged per step of a product's shared dimension (64 multiply-adds). The same loop in
/// the guest took about 45 wasm instructions a step; natively it takes 1–4 ns, and fuel is
/// priced at 400 ps a unit (`EnginePicosecondsPerFuel`): 16 keeps the price above the time
/// on CPUs without AVX too.
pub const FUEL_PER_STEP: u64 = 16;

/// Why the host refused a program: the guest traps.
#[derive(Debug, PartialEq, Eq)]
pub enum ProgramError {
	/// An address or range outside the guest's memory.
	OutOfBounds,
	/// An unknown operation, or a program without its closing `DONE` or too long.
	Malformed,
}

/// A guest memory, read and written little-endian with every address checked.
struct GuestMemory<'a>(&'a mut [u8]);

impl GuestMemory<'_> {
	fn range(&self, start: u64, len: u64) -> Result<std::ops::Range<usize>, ProgramError> {
		let end = start.checked_add(len).ok_or(ProgramError::OutOfBounds)?;
		if end > self.0.len() as u64 {
			return Err(ProgramError::OutOfBounds);
		}
		Ok(start as usize..end as usize)
	}

	/// `N` consecutive little-endian `u32` at `at`: a host call's arguments.
	fn words<const N: usize>(&self, at: u32) -> Result<[u32; N], ProgramError> {
		let bytes = &self.0[self.range(u64::from(at), 4 * N as u64)?];
		Ok(std::array::from_fn(|i| u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes"))))
	}

	/// `N` consecutive f32 at `at`.
	fn floats<const N: usize>(&self, at: u64) -> Result<[f32; N], ProgramError> {
		Ok(f32s(&self.0[self.range(at, 4 * N as u64)?]))
	}

	/// Byte offsets of the tile's rows, at `base + i·row_stride`, and the column stride, once
	/// every element `base + i·row_stride + j·col_stride` is known to lie inside memory (the
	/// extremes are at the corners).
	fn strided(&self, base: u32, row_stride: u32, col_stride: u32) -> Result<([usize; MR], isize), ProgramError> {
		let (base, rows, cols) = (i64::from(base), i64::from(row_stride as i32), i64::from(col_stride as i32));
		let last = (MR - 1) as i64;
		let low = base + (last * rows).min(0) + (last * cols).min(0);
		let high = base + (last * rows).max(0) + (last * cols).max(0);
		let low = u64::try_from(low).map_err(|_| ProgramError::OutOfBounds)?;
		self.range(low, high as u64 - low + 4)?;
		Ok((std::array::from_fn(|i| (base + i as i64 * rows) as usize), cols as isize))
	}
}

/// The first `N` little-endian f32 of `bytes` (which holds at least `4·N`).
fn f32s<const N: usize>(bytes: &[u8]) -> [f32; N] {
	std::array::from_fn(|i| f32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes")))
}

/// The little-endian f32s of `bytes` (a whole number of them).
fn floats(bytes: &[u8]) -> Vec<f32> {
	bytes.chunks_exact(4).map(|v| f32::from_le_bytes(v.try_into().expect("4 bytes"))).collect()
}

/// wasm's `f32.min`: NaN if either is, `-0` below `+0`. Written with selects only, so that a
/// loop of it vectorises.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn wasm_min(a: f32, b: f32) -> f32 {
	let either = f32::from_bits(a.to_bits() | b.to_bits());
	let least = if a < b {
		a
	} else if b < a {
		b
	} else {
		either
	};
	if a.is_nan() || b.is_nan() {
		f32::from_bits(CANONICAL_NAN)
	} else {
		least
	}
}

/// wasm's `f32.max`: NaN if either is, `+0` above `-0`.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn wasm_max(a: f32, b: f32) -> f32 {
	let both = f32::from_bits(a.to_bits() & b.to_bits());
	let greatest = if a > b {
		a
	} else if b > a {
		b
	} else {
		both
	};
	if a.is_nan() || b.is_nan() {
		f32::from_bits(CANONICAL_NAN)
	} else {
		greatest
	}
}

/// `t = min(s, t)` (`MAX`: `max`) for every element `t` of `tile` and `s` of `operand`, four
/// lanes at a time with the instructions cranelift compiles wasm's `f32x4.min` and `f32x4.max`
/// to for x86-64 (`lower.isle` of cranelift-codegen 0.123: `minps`/`maxps` both ways, then
/// `orps`, or `xorps`, `orps` and `subps`, the unordered mask and the quiet-NaN mask), and the
/// NaN canonicalisation wasmtime adds after them. Under IEEE these are [`wasm_min`] and
/// [`wasm_max`]. A run of engine version 15 or later flushes subnormals (`float_mode`): then
/// `minps` and `maxps` read a subnormal as zero, and two subnormals compare equal, where the
/// scalar definitions' compares and bit operations would answer other bits than the guest's
/// wasm (tract's `wasm_f32_8x8`, the reference the engine checks this kernel against at
/// start-up). The same instructions answer the same bits in either mode.
#[cfg(target_arch = "x86_64")]
fn wasm_min_max_lanes<const MAX: bool>(tile: &mut [f32; TILE], operand: &[f32; TILE]) {
	use std::arch::x86_64::*;
	for (t, s) in tile.chunks_exact_mut(4).zip(operand.chunks_exact(4)) {
		// SAFETY: SSE2 is part of every x86-64 CPU; each load and store is of the 4 f32s of a
		// chunk of 4.
		unsafe {
			let (x, y) = (_mm_loadu_ps(s.as_ptr()), _mm_loadu_ps(t.as_ptr()));
			let (result, nan) = if MAX {
				let (max1, max2) = (_mm_max_ps(x, y), _mm_max_ps(y, x));
				let xor = _mm_xor_ps(max1, max2);
				let blended_nan = _mm_or_ps(max1, xor);
				(_mm_sub_ps(blended_nan, xor), _mm_cmpunord_ps(blended_nan, blended_nan))
			} else {
				let (min1, min2) = (_mm_min_ps(x, y), _mm_min_ps(y, x));
				let or = _mm_or_ps(min1, min2);
				let nan = _mm_cmpunord_ps(or, min2);
				(_mm_or_ps(or, nan), nan)
			};
			let fraction = _mm_castsi128_ps(_mm_srli_epi32::<10>(_mm_castps_si128(nan)));
			let result = _mm_andnot_ps(fraction, result);
			// wasmtime's canonicalisation of the result.
			let is_nan = _mm_cmpunord_ps(result, result);
			let canonical = _mm_castsi128_ps(_mm_set1_epi32(CANONICAL_NAN as i32));
			let result = _mm_or_ps(_mm_andnot_ps(is_nan, result), _mm_and_ps(is_nan, canonical));
			_mm_storeu_ps(t.as_mut_ptr(), result);
		}
	}
}

/// The tile (of a product, or of an element-wise chain) with every NaN written as the canonical
/// NaN. An operation on the tile computes each element's arithmetic first and calls this once:
/// an element is NaN after its operations exactly when one of them gave a NaN (a NaN operand
/// gives a NaN), so canonicalising the result once is what wasm's canonicalisation of each result
/// writes. The test for a NaN is one vectorised pass; the rewrite runs only for a tile that holds
/// one. Inlined, so that a product's tile keeps its fixed length.
#[inline(always)]
pub(crate) fn canonical_tile(tile: &mut [f32]) {
	if tile.iter().fold(false, |nan, t| nan | t.is_nan()) {
		tile.iter_mut().for_each(|t| *t = canonical(*t));
	}
}

/// `t = f(s, t)` for every element, with `s` the matching element of `operand` and the
/// operation chosen by `kind` (min, max, add, mul, sub, flipped sub) outside the loop, so each
/// loop is compiled on its own and vectorised.
fn apply(kind: u32, tile: &mut [f32; TILE], operand: &[f32; TILE]) {
	apply_uncanonical(kind, tile, operand);
	if kind >= 2 {
		canonical_tile(tile);
	}
}

/// [`apply`] without writing its NaNs as the canonical NaN: for a whole product, which
/// canonicalises a tile once before each store (no operation turns a NaN into a number, and
/// `min`/`max` answer the canonical NaN for any NaN, so the stored bits are the same).
fn apply_uncanonical(kind: u32, tile: &mut [f32; TILE], operand: &[f32; TILE]) {
	fn each(tile: &mut [f32; TILE], operand: &[f32; TILE], f: impl Fn(f32, f32) -> f32) {
		for (t, s) in tile.iter_mut().zip(operand) {
			*t = f(*s, *t);
		}
	}
	match kind {
		#[cfg(target_arch = "x86_64")]
		0 => wasm_min_max_lanes::<false>(tile, operand),
		#[cfg(target_arch = "x86_64")]
		1 => wasm_min_max_lanes::<true>(tile, operand),
		#[cfg(not(target_arch = "x86_64"))]
		0 => each(tile, operand, wasm_min),
		#[cfg(not(target_arch = "x86_64"))]
		1 => each(tile, operand, wasm_max),
		2 => each(tile, operand, |s, t| s + t),
		3 => each(tile, operand, |s, t| s * t),
		4 => each(tile, operand, |s, t| s - t),
		_ => each(tile, operand, |s, t| t - s),
	}
}

/// The program at `ops` (of `len` operations, the last `DONE`), read out of guest memory once,
/// and what it costs.
fn read_program(memory: &GuestMemory, ops: u32, len: u32) -> Result<([HostOp; MAX_PROGRAM_OPS], u64), ProgramError> {
	if len == 0 || len as usize > MAX_PROGRAM_OPS {
		return Err(ProgramError::Malformed);
	}
	let bytes = &memory.0[memory.range(u64::from(ops), u64::from(len) * HOST_OP_BYTES as u64)?];
	let word = |op: &[u8], i: usize| u32::from_le_bytes(op[4 * i..4 * i + 4].try_into().expect("4 bytes"));
	let mut program = [HostOp::default(); MAX_PROGRAM_OPS];
	let mut cost = FUEL_PER_PROGRAM;
	for (op, bytes) in program.iter_mut().zip(bytes.chunks_exact(HOST_OP_BYTES)) {
		*op = HostOp { code: word(bytes, 0), x: word(bytes, 1), y: word(bytes, 2), z: word(bytes, 3) };
		cost += match op.code {
			OP_DONE => return Ok((program, cost)),
			OP_ADD_MAT_MUL => FUEL_PER_TILE_OP + u64::from(op.x) * FUEL_PER_STEP,
			OP_ADD_UNICAST | OP_STORE => FUEL_PER_TILE_OP + fuel_moved(op.y, op.z),
			OP_CLEAR..=OP_STORE => FUEL_PER_TILE_OP,
			_ => return Err(ProgramError::Malformed),
		};
	}
	Err(ProgramError::Malformed)
}

/// Runs the program at `ops` (of `len` operations) on the guest's `memory` if it costs no more
/// than `fuel_left`; answers its cost. Nothing is written unless the whole program is paid for.
pub fn run_tile_program(memory: &mut [u8], ops: u32, len: u32, fuel_left: u64) -> Result<u64, RunError> {
	let mut memory = GuestMemory(memory);
	let (program, cost) = read_program(&memory, ops, len).map_err(RunError::Program)?;
	if cost > fuel_left {
		return Err(RunError::OutOfFuel);
	}
	let mut tile = [0f32; TILE];
	for op in program.iter().take_while(|op| op.code != OP_DONE) {
		run_op(&mut memory, *op, &mut tile).map_err(RunError::Program)?;
	}
	Ok(cost)
}

/// Runs the `LRN` whose [`LrnCall`] is at `call` on the guest's `memory` if it costs no more
/// than `fuel_left` (its [`LrnCall::fuel`]); answers its cost. Nothing is written unless it is
/// paid for and both tensors lie inside memory.
pub fn run_lrn(memory: &mut [u8], call: u32, fuel_left: u64) -> Result<u64, RunError> {
	let memory = GuestMemory(memory);
	let call = LrnCall::from_words(memory.words::<{ LRN_CALL_BYTES / 4 }>(call).map_err(RunError::Program)?);
	let cost = call.fuel().ok_or(RunError::OutOfFuel)?;
	if cost > fuel_left {
		return Err(RunError::OutOfFuel);
	}
	if call.size == 0 {
		return Err(RunError::Program(ProgramError::Malformed));
	}
	let bytes = call.elements().and_then(|n| n.checked_mul(4)).ok_or(RunError::Program(ProgramError::OutOfBounds))?;
	let (x, y) = (
		memory.range(u64::from(call.x), bytes).map_err(RunError::Program)?,
		memory.range(u64::from(call.y), bytes).map_err(RunError::Program)?,
	);
	let x = floats(&memory.0[x]);
	let mut out = vec![0f32; x.len()];
	lrn_f32(&x, &mut out, &call);
	store_floats(&mut memory.0[y], &out);
	Ok(cost)
}

/// A call of the guest that reads one f32 tensor and writes another (a max pool, an im2col):
/// how the host reads, prices, checks and computes it.
trait TensorToTensor: Sized {
	/// The call whose words are at `at`.
	fn read(memory: &GuestMemory, at: u32) -> Result<Self, ProgramError>;
	/// Its fuel; `None` if that overflows.
	fn cost(&self) -> Option<u64>;
	/// Whether the host can compute it.
	fn well_formed(&self) -> bool;
	/// The address and elements of its input, then of its output.
	fn tensors(&self) -> [(u32, Option<u64>); 2];
	/// Writes its output `y` from its input `x`, each of its elements.
	fn compute(&self, x: &[f32], y: &mut [f32]);
}

impl TensorToTensor for MaxPoolCall {
	fn read(memory: &GuestMemory, at: u32) -> Result<Self, ProgramError> {
		Ok(Self::from_words(memory.words::<{ MAX_POOL_CALL_BYTES / 4 }>(at)?))
	}

	fn cost(&self) -> Option<u64> {
		self.fuel()
	}

	fn well_formed(&self) -> bool {
		self.is_well_formed()
	}

	fn tensors(&self) -> [(u32, Option<u64>); 2] {
		[(self.x, self.window.input_elements()), (self.y, self.window.output_elements())]
	}

	fn compute(&self, x: &[f32], y: &mut [f32]) {
		max_pool_f32(x, y, self)
	}
}

impl TensorToTensor for Im2colCall {
	fn read(memory: &GuestMemory, at: u32) -> Result<Self, ProgramError> {
		Ok(Self::from_words(memory.words::<{ IM2COL_CALL_BYTES / 4 }>(at)?))
	}

	fn cost(&self) -> Option<u64> {
		self.fuel()
	}

	fn well_formed(&self) -> bool {
		self.is_well_formed()
	}

	fn tensors(&self) -> [(u32, Option<u64>); 2] {
		[(self.x, self.window.input_elements()), (self.y, self.output_elements())]
	}

	fn compute(&self, x: &[f32], y: &mut [f32]) {
		im2col_f32(x, y, self)
	}
}

/// Runs the call at `at` on the guest's `memory` if it costs no more than `fuel_left`; answers
/// its cost. Nothing is written unless it is paid for, well formed and both tensors lie inside
/// memory, apart.
fn run_tensor_to_tensor<C: TensorToTensor>(memory: &mut [u8], at: u32, fuel_left: u64) -> Result<u64, RunError> {
	let memory = GuestMemory(memory);
	let call = C::read(&memory, at).map_err(RunError::Program)?;
	let cost = call.cost().ok_or(RunError::OutOfFuel)?;
	if cost > fuel_left {
		return Err(RunError::OutOfFuel);
	}
	// The guest's tensors lie at f32 places; at any other place the host would copy them in and
	// out, which the call's fuel does not pay for (an im2col's panels are only paid where written).
	if !call.well_formed() || call.tensors().iter().any(|&(address, _)| !at_f32_place(address)) {
		return Err(RunError::Program(ProgramError::Malformed));
	}
	let [x, y] = call.tensors().map(|(address, elements)| {
		let bytes = elements.and_then(|n| n.checked_mul(4)).ok_or(ProgramError::OutOfBounds)?;
		memory.range(u64::from(address), bytes)
	});
	let (x, y) = (x.map_err(RunError::Program)?, y.map_err(RunError::Program)?);
	// The guest's tensors lie apart; an output over its input would be read as it is written.
	if overlap(&x, &y) {
		return Err(RunError::Program(ProgramError::Malformed));
	}
	on_floats(memory.0, x, y, |x, y| call.compute(x, y));
	Ok(cost)
}

/// Runs the max pool whose [`MaxPoolCall`] is at `call` on the guest's `memory` if it costs no
/// more than `fuel_left` (its [`MaxPoolCall::fuel`]); answers its cost. Nothing is written unless
/// it is paid for, well formed and both tensors lie inside memory, apart.
pub fn run_max_pool(memory: &mut [u8], call: u32, fuel_left: u64) -> Result<u64, RunError> {
	run_tensor_to_tensor::<MaxPoolCall>(memory, call, fuel_left)
}

/// Runs the im2col whose [`Im2colCall`] is at `call` on the guest's `memory` if it costs no more
/// than `fuel_left` (its [`Im2colCall::fuel`]); answers its cost. Nothing is written unless it is
/// paid for, well formed and both tensors lie inside memory, apart.
pub fn run_im2col(memory: &mut [u8], call: u32, fuel_left: u64) -> Result<u64, RunError> {
	run_tensor_to_tensor::<Im2colCall>(memory, call, fuel_left)
}

/// Whether a guest address is a whole number of f32s from the start of its memory.
fn at_f32_place(address: u32) -> bool {
	address % 4 == 0
}

/// Whether two byte ranges share a byte.
fn overlap(a: &std::ops::Range<usize>, b: &std::ops::Range<usize>) -> bool {
	a.start < b.end && b.start < a.end
}

/// Runs `work` on the f32s of the guest's bytes `x`, read, and `y`, written: two ranges inside
/// `memory` that share no byte. In place where both are f32-aligned (a wasm memory's start is,
/// and the host kernels take tensors at f32 places only), on a little-endian host (guest memory
/// is little-endian); otherwise copied in and out, `y` with the values it holds, so that what
/// `work` does not write keeps its bits either way.
fn on_floats(
	memory: &mut [u8],
	x: std::ops::Range<usize>,
	y: std::ops::Range<usize>,
	work: impl FnOnce(&[f32], &mut [f32]),
) {
	let (input, output) = if x.end <= y.start {
		let (low, high) = memory.split_at_mut(y.start);
		(&low[x], &mut high[..y.len()])
	} else {
		let (low, high) = memory.split_at_mut(x.start);
		(&high[..x.len()], &mut low[y])
	};
	// SAFETY: every bit pattern is an f32, and `align_to` keeps only what is aligned.
	let (in_place_x, in_place_y) = unsafe { (input.align_to::<f32>(), output.align_to_mut::<f32>()) };
	if cfg!(target_endian = "little") && in_place_x.0.is_empty() && in_place_y.0.is_empty() {
		return work(in_place_x.1, in_place_y.1);
	}
	let x = floats(input);
	let mut out = floats(output);
	work(&x, &mut out);
	store_floats(output, &out);
}

/// Runs the depthwise convolution whose [`DepthwiseCall`] is at `call` on the guest's `memory`
/// if it costs no more than `fuel_left` (its [`DepthwiseCall::fuel`]); answers its cost. Nothing
/// is written unless it is paid for, well formed, its four tensors lie inside memory and its
/// output shares no byte with the others.
pub fn run_depthwise(memory: &mut [u8], call: u32, fuel_left: u64) -> Result<u64, RunError> {
	let memory = GuestMemory(memory);
	let call =
		DepthwiseCall::from_words(memory.words::<{ DEPTHWISE_CALL_BYTES / 4 }>(call).map_err(RunError::Program)?);
	let cost = call.fuel().ok_or(RunError::OutOfFuel)?;
	if cost > fuel_left {
		return Err(RunError::OutOfFuel);
	}
	if !call.is_well_formed() || ![call.x, call.kernel, call.bias, call.y].into_iter().all(at_f32_place) {
		return Err(RunError::Program(ProgramError::Malformed));
	}
	let range = |at: u32, elements: Option<u64>| {
		let bytes = elements.and_then(|n| n.checked_mul(4)).ok_or(RunError::Program(ProgramError::OutOfBounds))?;
		memory.range(u64::from(at), bytes).map_err(RunError::Program)
	};
	let (x, kernel, bias, y) = (
		range(call.x, call.window.input_elements())?,
		range(call.kernel, call.kernel_elements())?,
		range(call.bias, Some(u64::from(call.channels)))?,
		range(call.y, call.window.output_elements())?,
	);
	if overlap(&x, &y) || overlap(&kernel, &y) || overlap(&bias, &y) {
		return Err(RunError::Program(ProgramError::Malformed));
	}
	// The kernel and the bias are small (their reading is paid for): copied out.
	let (kernel, bias) = (floats(&memory.0[kernel]), floats(&memory.0[bias]));
	on_floats(memory.0, x, y, |x, y| depthwise_f32(x, &kernel, &bias, y, &call));
	Ok(cost)
}

/// Runs the element-wise chain whose [`BinChainCall`] is at `call` on the guest's `memory` if
/// it costs no more than `fuel_left` (its [`BinChainCall::fuel`]); answers its cost. Nothing is
/// written unless it is paid for, well formed, its accumulator, output and operands lie inside
/// memory, and its output is its accumulator's place or apart from it and from every operand.
pub fn run_bin_chain(memory: &mut [u8], call: u32, fuel_left: u64) -> Result<u64, RunError> {
	let memory = GuestMemory(memory);
	let call = BinChainCall::from_words(memory.words::<BIN_CHAIN_CALL_WORDS>(call).map_err(RunError::Program)?);
	let cost = call.fuel().ok_or(RunError::Program(ProgramError::Malformed))?;
	if cost > fuel_left {
		return Err(RunError::OutOfFuel);
	}
	let elements = u64::from(call.elements);
	let range = |at: u32, elements: u64| memory.range(u64::from(at), 4 * elements).map_err(RunError::Program);
	let (x, y) = (range(call.x, elements)?, range(call.y, elements)?);
	let operands =
		call.steps().iter().map(|step| range(step.b, u64::from(step.b_elements))).collect::<Result<Vec<_>, _>>()?;
	if (x != y && overlap(&x, &y)) || operands.iter().any(|b| overlap(b, &y)) {
		return Err(RunError::Program(ProgramError::Malformed));
	}
	let memory = memory.0;
	if x != y {
		memory.copy_within(x, y.start);
	}
	let patterns = call.steps().iter().map(|step| {
		let op = ChainOp::from_word(step.op).expect("a well-formed step");
		(op, step.pattern(elements).expect("a well-formed step"))
	});
	let base = memory.as_mut_ptr();
	if cfg!(target_endian = "little") && base as usize % std::mem::align_of::<f32>() == 0 {
		// SAFETY: every range lies inside `memory` and starts a whole number of f32s from its
		// aligned start (the call is well formed); the output shares no byte with an operand
		// (operands may share bytes with each other: they are only read), and `memory` is not
		// touched while these views live. Every bit pattern is an f32.
		let (a, bs) = unsafe {
			let view = |range: &std::ops::Range<usize>| base.add(range.start) as *mut f32;
			let a = std::slice::from_raw_parts_mut(view(&y), y.len() / 4);
			let bs: Vec<&[f32]> =
				operands.iter().map(|b| std::slice::from_raw_parts(view(b), b.len() / 4) as &[f32]).collect();
			(a, bs)
		};
		let steps: Vec<Step> = patterns.zip(&bs).map(|((op, pattern), b)| Step { op, b, pattern }).collect();
		bin_chain_f32(a, &steps);
	} else {
		let bs: Vec<Vec<f32>> = operands.iter().map(|b| floats(&memory[b.clone()])).collect();
		let steps: Vec<Step> = patterns.zip(&bs).map(|((op, pattern), b)| Step { op, b, pattern }).collect();
		let mut a = floats(&memory[y.clone()]);
		bin_chain_f32(&mut a, &steps);
		store_floats(&mut memory[y], &a);
	}
	Ok(cost)
}

/// Bytes of one operand's panels a whole product works through at a time.
const BLOCK_BYTES: u64 = 256 * 1024;

/// Fuel charged per tile of a whole product ([`run_mat_mul`]) besides its program's operations:
/// the tile's place, its border and the operands moved to it.
pub const FUEL_PER_PRODUCT_TILE: u64 = 8;

/// A product of at least this much fuel is split between threads, where more than one may run
/// it ([`run_mat_mul`]): about 0.2–0.3 ms of work on this project's machine, several times what
/// handing a band to another thread and waiting for it costs. (1 in this crate's unit tests, so
/// that their small products split.)
pub const THREADED_PRODUCT_FUEL: u64 = if cfg!(test) { 1 } else { 2_000_000 };

/// Runs the whole matrix product whose [`MatMulCall`] is at `call_at` on the guest's `memory` if
/// it costs no more than `fuel_left`; answers its cost: [`FUEL_PER_PROGRAM`] once, and per tile
/// its program's operations (as [`run_tile_program`] charges them) and
/// [`FUEL_PER_PRODUCT_TILE`]. Nothing is written unless the whole product is paid for and every
/// operand of every tile lies inside memory.
///
/// With a `pool`, the calling thread and the pool's run its tiles, each tile whole on one of
/// them, where the product costs [`THREADED_PRODUCT_FUEL`] or more and its stores are apart from
/// everything else it touches and from each other ([`MatMulCall::stores_apart`], which the host
/// checks itself): each element is then computed by one thread with the operations one thread
/// gives it, and no thread reads or writes a byte another writes, so the bits are those of one
/// thread. Any other product runs on the calling thread alone. The fuel is the same either way.
pub fn run_mat_mul(
	memory: &mut [u8],
	call_at: u32,
	fuel_left: u64,
	pool: Option<&rayon::ThreadPool>,
) -> Result<u64, RunError> {
	let memory = GuestMemory(memory);
	let call = MatMulCall::from_words(memory.words::<{ MAT_MUL_CALL_BYTES / 4 }>(call_at).map_err(RunError::Program)?);
	let (program, per_program) = read_program(&memory, call.ops, call.len).map_err(RunError::Program)?;
	let (down, right) = call.tiles();
	let per_tile = per_program - FUEL_PER_PROGRAM + FUEL_PER_PRODUCT_TILE;
	let cost = down
		.checked_mul(right)
		.and_then(|tiles| tiles.checked_mul(per_tile))
		.and_then(|cost| cost.checked_add(FUEL_PER_PROGRAM))
		.ok_or(RunError::OutOfFuel)?;
	if cost > fuel_left {
		return Err(RunError::OutOfFuel);
	}
	let ops: Vec<HostOp> = program.iter().take_while(|op| op.code != OP_DONE).copied().collect();
	for op in &ops {
		let touched = call.touched(op).map_err(|refused| {
			RunError::Program(match refused {
				Refused::Malformed => ProgramError::Malformed,
				Refused::OutOfBounds => ProgramError::OutOfBounds,
			})
		})?;
		for range in touched.read.iter().chain([&touched.written]).flatten() {
			memory.range(range.start, range.end - range.start).map_err(RunError::Program)?;
		}
	}
	let tile_at = |d: u64, r: u64| Tile {
		down: d as u32,
		right: r as u32,
		rows: (u64::from(call.m) - 8 * d).min(MR as u64) as usize,
		cols: (u64::from(call.n) - 8 * r).min(NR as u64) as usize,
	};
	// Blocks of one operand's panels that stay in a core's cache, and within a block the other
	// operand's panels one by one, each against the whole block: the other's panel stays in
	// the first-level cache. The output is written along its contiguous dimension: a block of
	// the right operand's panels for a row-major output (each row of tiles left to right), of
	// the left operand's for a column-major one. No bit depends on the order (the guest hands
	// over only products whose stores overlap nothing else).
	let column_major = ops.iter().find(|op| op.code == OP_STORE).is_some_and(|store| store.y == 4 && store.z != 4);
	// The blocked operand's tiles, their panels' distance, and the other operand's tiles.
	let (blocked, stride, other) =
		if column_major { (down, call.a_panel_stride, right) } else { (right, call.b_panel_stride, down) };
	// Tiles side by side (of one row of tiles, so of one panel of the left operand) run as
	// pairs ([`run_product_pair`]) where the tiles are independent ([`tiles_independent`]): no
	// bit then depends on the order of the two tiles' operations, nor on the blocks' size, then
	// even so that a row-major output's blocks hold whole pairs.
	let independent = tiles_independent(&call, &ops, call_at);
	let per_block = (BLOCK_BYTES / u64::from(stride).max(1)).max(1);
	let per_block = if independent { per_block.next_multiple_of(2) } else { per_block };
	// The tiles of the other operand's panels in `others`, each against every block.
	let walk = |memory: ProductMemory, blocks: std::ops::Range<u64>, others: std::ops::Range<u64>| {
		let (mut tile, mut pair) = ([0f32; TILE], [[0f32; TILE]; 2]);
		// Tile `(d, r)`, or the pair of it and `(d, r + 1)`.
		let mut run = |d: u64, r: u64, both: bool| {
			if both {
				run_product_pair(memory, &call, &ops, [tile_at(d, r), tile_at(d, r + 1)], &mut pair)
			} else {
				run_product_tile(memory, &call, &ops, tile_at(d, r), &mut tile)
			}
		};
		for first in blocks.clone().step_by(per_block as usize) {
			let block = first..blocks.end.min(first + per_block);
			if column_major {
				// Pairs of the other operand's tiles (columns of tiles), each against the block.
				for (o, both) in pairs_of(others.clone(), independent) {
					block.clone().for_each(|b| run(b, o, both));
				}
			} else {
				// Pairs of the block's tiles (columns of tiles), against each of the other's.
				for o in others.clone() {
					pairs_of(block.clone(), independent).for_each(|(b, both)| run(o, b, both));
				}
			}
		}
	};
	let memory = ProductMemory::of(memory.0);
	// (Never from a thread of a rayon pool, whose wait would run other jobs on the guest's
	// stack: a run's calling thread is the node's own.)
	let threads = match pool {
		Some(pool) if rayon::current_thread_index().is_none() => pool.current_num_threads() + 1,
		_ => 1,
	};
	let bands = product_threads(&call, independent, cost, threads);
	let Some(pool) = pool.filter(|_| bands > 1) else {
		walk(memory, 0..blocked, 0..other);
		return Ok(cost);
	};
	// Bands of the blocked operand's tiles (each band's panels read by one thread only), or of
	// the other operand's where the blocked one has fewer tiles than there are bands; this
	// thread takes the first.
	let split_blocked = blocked >= bands;
	let tiles = if split_blocked { blocked } else { other };
	let band = tiles.div_ceil(bands);
	let walk_band = |start: u64| {
		let range = start..tiles.min(start + band);
		if split_blocked {
			walk(memory, range, 0..other)
		} else {
			walk(memory, 0..blocked, range)
		}
	};
	// Each band in the run's float mode (subnormals flushed or not), whatever the pool thread's.
	let mode = crate::float_mode::Mode::current();
	pool.in_place_scope(|scope| {
		for start in (band..tiles).step_by(band as usize) {
			let walk_band = &walk_band;
			scope.spawn(move |_| {
				let _mode = mode.adopt();
				// A panic here (none is expected: every operand was checked) reaches the calling
				// thread at the scope's end, which reports it as this node's failure; the node's
				// panic hook would abort the process instead.
				let _unwind = sp_panic_handler::AbortGuard::force_unwind();
				walk_band(start)
			});
		}
		walk_band(0);
	});
	Ok(cost)
}

/// Whether the tiles of the product `call` at `call_at` of program `ops` (without its `DONE`)
/// are independent of each other: each starts from a cleared tile (the program's first
/// operation is `CLEAR`; a tile's values otherwise start as the tile before it on the same
/// thread left them), and the product's stores are apart ([`MatMulCall::stores_apart`]).
/// Neither their order, nor which of them run as a pair, nor the thread that runs each then
/// changes a bit. Every program of the guest starts with `CLEAR` (tract's driver's first
/// operation); another runs its tiles one by one in order, on the calling thread.
fn tiles_independent(call: &MatMulCall, ops: &[HostOp], call_at: u32) -> bool {
	ops.first().is_some_and(|op| op.code == OP_CLEAR) && call.stores_apart(ops, call_at)
}

/// The starts of the tiles in `range` two by two where `paired` (the last alone if one is
/// left), else one by one, each with whether it starts a pair.
fn pairs_of(range: std::ops::Range<u64>, paired: bool) -> impl Iterator<Item = (u64, bool)> {
	let end = range.end;
	range.step_by(if paired { 2 } else { 1 }).map(move |start| (start, paired && start + 1 < end))
}

/// How many threads run the product `call` of `cost`, whose tiles are `independent` or not
/// ([`tiles_independent`]), where `threads` may: one, unless it costs
/// [`THREADED_PRODUCT_FUEL`] or more and its tiles are independent; never more than either
/// operand has tiles (a band each).
fn product_threads(call: &MatMulCall, independent: bool, cost: u64, threads: usize) -> u64 {
	if threads <= 1 || cost < THREADED_PRODUCT_FUEL || !independent {
		return 1;
	}
	let (down, right) = call.tiles();
	(threads as u64).min(down.max(right)).max(1)
}

/// The guest's memory as the tiles of one whole product read and write it, from one thread or
/// several: reads of operands ([`bytes`](Self::bytes), [`float`](Self::float)) and stores of
/// results ([`store`](Self::store)), each checked inside memory. Tiles on several threads at
/// once only for a product whose stores are apart (see [`run_mat_mul`]): no byte one thread
/// writes is read or written by another, and a read's slice holds no byte any tile writes.
#[derive(Clone, Copy)]
struct ProductMemory<'a> {
	ptr: *mut u8,
	len: usize,
	_memory: std::marker::PhantomData<&'a mut [u8]>,
}

// SAFETY: it is a `&mut [u8]` shared by threads that touch apart bytes (see the type's docs).
unsafe impl Send for ProductMemory<'_> {}
unsafe impl Sync for ProductMemory<'_> {}

impl<'a> ProductMemory<'a> {
	fn of(memory: &'a mut [u8]) -> Self {
		Self { ptr: memory.as_mut_ptr(), len: memory.len(), _memory: std::marker::PhantomData }
	}

	fn check(&self, at: usize, len: usize) {
		assert!(at.checked_add(len).is_some_and(|end| end <= self.len), "a product's operand outside memory");
	}

	/// `len` bytes at `at`, which no tile of the product writes.
	fn bytes(&self, at: usize, len: usize) -> &[u8] {
		self.check(at, len);
		// SAFETY: inside the memory, and no thread writes them while the product runs.
		unsafe { std::slice::from_raw_parts(self.ptr.add(at), len) }
	}

	/// The f32 at `at`.
	fn float(&self, at: usize) -> f32 {
		f32::from_le_bytes(self.bytes(at, 4).try_into().expect("4 bytes"))
	}

	/// `values` written little-endian at `at`: elements of the product that no other thread
	/// touches.
	fn store(&self, at: usize, values: &[f32]) {
		self.check(at, 4 * values.len());
		if let Ok(row) = <&[f32; NR]>::try_from(values) {
			// A whole row of a tile: one copy of a fixed length, which the compiler inlines
			// (a loop of unknown length became a call of `memmove` a row).
			let bytes = row.map(f32::to_le_bytes);
			// SAFETY: inside the memory; no reference to these bytes lives, on any thread.
			unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr().cast::<u8>(), self.ptr.add(at), 4 * NR) };
			return;
		}
		for (i, value) in values.iter().enumerate() {
			// SAFETY: inside the memory; no reference to these bytes lives, on any thread.
			unsafe { std::ptr::copy_nonoverlapping(value.to_le_bytes().as_ptr(), self.ptr.add(at + 4 * i), 4) };
		}
	}
}

/// A tile of a whole product: its place, and its rows and columns inside the product.
#[derive(Clone, Copy)]
struct Tile {
	down: u32,
	right: u32,
	rows: usize,
	cols: usize,
}

/// Runs the product's program on one of its tiles, its operands moved to the tile
/// ([`MatMulCall::moved`]) and checked inside memory beforehand ([`run_mat_mul`]). NaNs are
/// written as the canonical NaN once, before each store ([`apply_uncanonical`]).
fn run_product_tile(memory: ProductMemory, call: &MatMulCall, ops: &[HostOp], at: Tile, tile: &mut [f32; TILE]) {
	for op in ops {
		run_product_op(memory, call.moved(op, at.down, at.right), at, tile);
	}
}

/// Runs the product's program on two of its tiles side by side (of one row of tiles), each
/// operation on the first tile and then on the second, but their products of panels
/// (`ADD_MAT_MUL`), which read the same panel of the left operand (and the same steps: neither
/// moves with the tile's column), together, each element with the operations it has alone
/// ([`multiply_accumulate_pair`]). Only for a product whose tiles are independent
/// ([`tiles_independent`]): the order of the two tiles' operations then changes no bit.
fn run_product_pair(
	memory: ProductMemory,
	call: &MatMulCall,
	ops: &[HostOp],
	at: [Tile; 2],
	tiles: &mut [[f32; TILE]; 2],
) {
	for op in ops {
		let moved = at.map(|at| call.moved(op, at.down, at.right));
		if op.code == OP_ADD_MAT_MUL {
			debug_assert!(at[0].down == at[1].down && (moved[0].x, moved[0].y) == (moved[1].x, moved[1].y));
			let steps = moved[0].x as usize;
			if steps > 0 {
				let panel = steps * STEP_BYTES;
				let a = memory.bytes(moved[0].y as usize, panel);
				let b = moved.map(|op| memory.bytes(op.z as usize, panel));
				let [first, second] = tiles;
				multiply_accumulate_pair(a, b, steps, [first, second]);
			}
		} else {
			for ((op, at), tile) in moved.into_iter().zip(at).zip(tiles.iter_mut()) {
				run_product_op(memory, op, at, tile);
			}
		}
	}
}

/// Runs one operation of a product's program, moved to the tile `at` ([`MatMulCall::moved`]).
fn run_product_op(memory: ProductMemory, op: HostOp, at: Tile, tile: &mut [f32; TILE]) {
	// The tile's `live` values of a per-row or per-column operand at `p`, 0 past the border.
	let vector = |p: u32, live: usize| -> [f32; 8] {
		std::array::from_fn(|i| if i < live { memory.float(p as usize + 4 * i) } else { 0.0 })
	};
	// Address of element `(i, j)` of a strided operand at `p`.
	let element = |p: u32, rows: u32, cols: u32, i: usize, j: usize| {
		(i64::from(p) + i as i64 * i64::from(rows as i32) + j as i64 * i64::from(cols as i32)) as usize
	};
	match op.code {
		OP_CLEAR => *tile = [0.0; TILE],
		OP_SCALAR_MIN..=OP_SCALAR_SUB_F => {
			apply_uncanonical(op.code - OP_SCALAR_MIN, tile, &[f32::from_bits(op.x); TILE])
		},
		OP_LEAKY_RELU => {
			let alpha = f32::from_bits(op.x);
			tile.iter_mut().for_each(|t| *t = if *t > 0.0 { *t } else { alpha * *t });
		},
		OP_PER_ROW_MIN..=OP_PER_ROW_SUB_F => {
			let rows = vector(op.x, at.rows);
			apply_uncanonical(op.code - OP_PER_ROW_MIN, tile, &std::array::from_fn(|e| rows[e / NR]));
		},
		OP_PER_COL_MIN..=OP_PER_COL_SUB_F => {
			let cols = vector(op.x, at.cols);
			apply_uncanonical(op.code - OP_PER_COL_MIN, tile, &std::array::from_fn(|e| cols[e % NR]));
		},
		OP_ADD_UNICAST => {
			for i in 0..at.rows {
				for j in 0..at.cols {
					tile[i * NR + j] += memory.float(element(op.x, op.y, op.z, i, j));
				}
			}
		},
		OP_ADD_ROW_COL_PRODUCTS => {
			let (rows, cols) = (vector(op.x, at.rows), vector(op.y, at.cols));
			for (e, t) in tile.iter_mut().enumerate() {
				*t += rows[e / NR] * cols[e % NR];
			}
		},
		OP_STORE => {
			canonical_tile(tile);
			if op.z == 4 {
				// Rows contiguous: each row of the tile in one copy.
				for i in 0..at.rows {
					memory.store(element(op.x, op.y, op.z, i, 0), &tile[i * NR..i * NR + at.cols]);
				}
			} else if op.y == 4 {
				// Columns contiguous (a transposed output): each column in one copy.
				for j in 0..at.cols {
					let column: [f32; MR] = std::array::from_fn(|i| tile[i * NR + j]);
					memory.store(element(op.x, op.y, op.z, 0, j), &column[..at.rows]);
				}
			} else {
				for i in 0..at.rows {
					for j in 0..at.cols {
						memory.store(element(op.x, op.y, op.z, i, j), &[tile[i * NR + j]]);
					}
				}
			}
		},
		OP_ADD_MAT_MUL => {
			let steps = op.x as usize;
			if steps > 0 {
				let panel = steps * STEP_BYTES;
				let (a, b) = (memory.bytes(op.y as usize, panel), memory.bytes(op.z as usize, panel));
				multiply_accumulate(a, b, steps, tile);
			}
		},
		_ => unreachable!("run_mat_mul refused every other code"),
	}
}

/// `values` written little-endian into `bytes` (which holds as many).
fn store_floats(bytes: &mut [u8], values: &[f32]) {
	for (chunk, value) in bytes.chunks_exact_mut(4).zip(values) {
		chunk.copy_from_slice(&value.to_le_bytes());
	}
}

/// Why a program did not run.
#[derive(Debug, PartialEq, Eq)]
pub enum RunError {
	/// It costs more fuel than is left.
	OutOfFuel,
	/// It is malformed or reaches outside memory.
	Program(ProgramError),
}

fn run_op(memory: &mut GuestMemory, op: HostOp, tile: &mut [f32; TILE]) -> Result<(), ProgramError> {
	match op.code {
		OP_CLEAR => *tile = [0.0; TILE],
		OP_LOAD_TILE => *tile = memory.floats(u64::from(op.x))?,
		OP_SCALAR_MIN..=OP_SCALAR_SUB_F => apply(op.code - OP_SCALAR_MIN, tile, &[f32::from_bits(op.x); TILE]),
		OP_LEAKY_RELU => {
			let alpha = f32::from_bits(op.x);
			tile.iter_mut().for_each(|t| *t = if *t > 0.0 { *t } else { alpha * *t });
			canonical_tile(tile);
		},
		OP_PER_ROW_MIN..=OP_PER_ROW_SUB_F => {
			let rows: [f32; MR] = memory.floats(u64::from(op.x))?;
			apply(op.code - OP_PER_ROW_MIN, tile, &std::array::from_fn(|e| rows[e / NR]));
		},
		OP_PER_COL_MIN..=OP_PER_COL_SUB_F => {
			let cols: [f32; NR] = memory.floats(u64::from(op.x))?;
			apply(op.code - OP_PER_COL_MIN, tile, &std::array::from_fn(|e| cols[e % NR]));
		},
		OP_ADD_UNICAST => {
			let (rows, col_stride) = memory.strided(op.x, op.y, op.z)?;
			for (values, row) in tile.chunks_exact_mut(NR).zip(rows) {
				for (j, t) in values.iter_mut().enumerate() {
					let at = row.wrapping_add_signed(j as isize * col_stride);
					let [value] = f32s(&memory.0[at..at + 4]);
					*t += value;
				}
			}
			canonical_tile(tile);
		},
		OP_ADD_ROW_COL_PRODUCTS => {
			let rows: [f32; MR] = memory.floats(u64::from(op.x))?;
			let cols: [f32; NR] = memory.floats(u64::from(op.y))?;
			for (e, t) in tile.iter_mut().enumerate() {
				*t += rows[e / NR] * cols[e % NR];
			}
			canonical_tile(tile);
		},
		OP_STORE => {
			let (rows, col_stride) = memory.strided(op.x, op.y, op.z)?;
			for (values, row) in tile.chunks_exact(NR).zip(rows) {
				if col_stride == 4 {
					store_floats(&mut memory.0[row..row + 4 * NR], values);
				} else {
					for (j, value) in values.iter().enumerate() {
						let at = row.wrapping_add_signed(j as isize * col_stride);
						memory.0[at..at + 4].copy_from_slice(&value.to_le_bytes());
					}
				}
			}
		},
		OP_ADD_MAT_MUL => {
			let steps = op.x as usize;
			if steps > 0 {
				let panel = steps as u64 * STEP_BYTES as u64;
				let (a, b) = (memory.range(u64::from(op.y), panel)?, memory.range(u64::from(op.z), panel)?);
				multiply_accumulate(&memory.0[a], &memory.0[b], steps, tile);
				canonical_tile(tile);
			}
		},
		_ => return Err(ProgramError::Malformed),
	}
	Ok(())
}

/// `acc[i][j] += a[s][i] * b[s][j]` for `s` in `0..steps`; `a` and `b` hold `steps` × 8 f32.
fn multiply_accumulate(a: &[u8], b: &[u8], steps: usize, acc: &mut [f32; MR * NR]) {
	debug_assert!(a.len() == steps * STEP_BYTES && b.len() == steps * STEP_BYTES);
	#[cfg(target_arch = "x86_64")]
	{
		if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vl") {
			// SAFETY: the CPU has AVX-512F and AVX-512VL, and `a` and `b` hold `steps` steps.
			unsafe { x86_64::multiply_accumulate_avx512vl(a.as_ptr(), b.as_ptr(), steps, acc) };
			return;
		}
		if std::arch::is_x86_feature_detected!("avx") {
			// SAFETY: the CPU has AVX, and `a` and `b` hold `steps` steps.
			unsafe { x86_64::multiply_accumulate_avx(a.as_ptr(), b.as_ptr(), steps, acc) };
			return;
		}
	}
	multiply_accumulate_portable(a, b, steps, acc)
}

/// [`multiply_accumulate`] of two tiles side by side, which share the left operand's panel `a`:
/// `acc[t][i][j] += a[s][i] * b[t][s][j]` for `s` in `0..steps`, each element with the
/// operations and the order it has alone. With AVX-512F, both tiles' rows in one 16-lane
/// register: a step's multiplies and adds are half as many instructions.
fn multiply_accumulate_pair(a: &[u8], b: [&[u8]; 2], steps: usize, acc: [&mut [f32; MR * NR]; 2]) {
	debug_assert!(a.len() == steps * STEP_BYTES && b.iter().all(|b| b.len() == steps * STEP_BYTES));
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx512f") {
		// SAFETY: the CPU has AVX-512F, and `a` and both `b` hold `steps` steps.
		unsafe { x86_64::multiply_accumulate_pair_avx512(a.as_ptr(), b.map(<[u8]>::as_ptr), steps, acc) };
		return;
	}
	let [first, second] = acc;
	multiply_accumulate(a, b[0], steps, first);
	multiply_accumulate(a, b[1], steps, second);
}

/// The reference loop, for every CPU: the compiler vectorises it over `j` (SSE2 on x86-64,
/// NEON on aarch64), which changes nothing in any element's sequence of operations.
fn multiply_accumulate_portable(a: &[u8], b: &[u8], steps: usize, acc: &mut [f32; MR * NR]) {
	for (a, b) in a.chunks_exact(STEP_BYTES).zip(b.chunks_exact(STEP_BYTES)).take(steps) {
		let (a, b): ([f32; MR], [f32; NR]) = (f32s(a), f32s(b));
		for i in 0..MR {
			for j in 0..NR {
				acc[i * NR + j] += a[i] * b[j];
			}
		}
	}
}

#[cfg(target_arch = "x86_64")]
mod x86_64 {
	use super::{MR, NR};
	use std::arch::x86_64::*;

	/// [`multiply_accumulate_avx`] compiled with AVX-512VL: the same 8-lane registers and
	/// operations, each `a` value's broadcast folded into its `vmulps` (an embedded broadcast
	/// of a memory operand), a step's 17 instructions where AVX's are 25. ResNet-50's run
	/// 147.8, 148.6 → 139.5, 141.9 ms (`examples/profile` of the two builds, 2026-12-06).
	///
	/// # Safety
	/// The CPU has AVX-512F and AVX-512VL; `a` and `b` point to `steps` × 8 readable f32 (any
	/// alignment).
	#[target_feature(enable = "avx512f,avx512vl")]
	pub unsafe fn multiply_accumulate_avx512vl(a: *const u8, b: *const u8, steps: usize, acc: &mut [f32; MR * NR]) {
		unsafe { multiply_accumulate_avx(a, b, steps, acc) }
	}

	/// Two tiles' products of panels, side by side (see [`super::multiply_accumulate_pair`]):
	/// one 16-lane register per row of the two tiles, the first tile's row in its low 8 lanes;
	/// per step, the row's `a` value broadcast times both tiles' 8 values of `b`, then added:
	/// `vmulps` and `vaddps` as [`multiply_accumulate_avx`], on 16 lanes at once.
	///
	/// # Safety
	/// The CPU has AVX-512F; `a` and both `b` point to `steps` × 8 readable f32 (any alignment).
	#[target_feature(enable = "avx512f")]
	pub unsafe fn multiply_accumulate_pair_avx512(
		a: *const u8,
		b: [*const u8; 2],
		steps: usize,
		acc: [&mut [f32; MR * NR]; 2],
	) {
		let (a, [b0, b1]) = (a as *const f32, b.map(|b| b as *const f32));
		let [first, second] = acc;
		let mut rows: [__m512; MR] = std::array::from_fn(|i| unsafe {
			join(_mm256_loadu_ps(first.as_ptr().add(i * NR)), _mm256_loadu_ps(second.as_ptr().add(i * NR)))
		});
		for s in 0..steps {
			unsafe {
				let b = join(_mm256_loadu_ps(b0.add(s * NR)), _mm256_loadu_ps(b1.add(s * NR)));
				let a = a.add(s * MR);
				for (i, row) in rows.iter_mut().enumerate() {
					let a = _mm512_set1_ps(a.add(i).read_unaligned());
					*row = _mm512_add_ps(*row, _mm512_mul_ps(a, b));
				}
			}
		}
		for (i, row) in rows.iter().enumerate() {
			let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(*row)));
			unsafe {
				_mm256_storeu_ps(first.as_mut_ptr().add(i * NR), _mm512_castps512_ps256(*row));
				_mm256_storeu_ps(second.as_mut_ptr().add(i * NR), high);
			}
		}
	}

	/// `low`'s 8 lanes, then `high`'s, in one 16-lane register.
	#[target_feature(enable = "avx512f")]
	#[inline]
	fn join(low: __m256, high: __m256) -> __m512 {
		_mm512_castpd_ps(_mm512_insertf64x4::<1>(_mm512_castps_pd(_mm512_castps256_ps512(low)), _mm256_castps_pd(high)))
	}

	/// One 8-lane register per tile row; per step, the row's `a` value broadcast times `b`'s
	/// 8 values, then added: `vmulps` and `vaddps`, each rounding once, as the portable loop.
	///
	/// # Safety
	/// The CPU has AVX; `a` and `b` point to `steps` × 8 readable f32 (any alignment).
	#[target_feature(enable = "avx")]
	#[inline]
	pub unsafe fn multiply_accumulate_avx(a: *const u8, b: *const u8, steps: usize, acc: &mut [f32; MR * NR]) {
		let (a, b) = (a as *const f32, b as *const f32);
		let mut rows: [__m256; MR] = std::array::from_fn(|i| unsafe { _mm256_loadu_ps(acc.as_ptr().add(i * NR)) });
		for s in 0..steps {
			unsafe {
				let b = _mm256_loadu_ps(b.add(s * NR));
				let a = a.add(s * MR);
				for (i, row) in rows.iter_mut().enumerate() {
					let a = _mm256_set1_ps(a.add(i).read_unaligned());
					*row = _mm256_add_ps(*row, _mm256_mul_ps(a, b));
				}
			}
		}
		for (i, row) in rows.iter().enumerate() {
			unsafe { _mm256_storeu_ps(acc.as_mut_ptr().add(i * NR), *row) };
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use veriml_inference_primitives::window::Window;

	/// A guest memory under construction: values appended, their addresses answered.
	#[derive(Default)]
	struct Builder(Vec<u8>);

	impl Builder {
		fn floats(&mut self, values: &[f32]) -> u32 {
			let at = self.0.len() as u32;
			self.0.extend(values.iter().flat_map(|v| v.to_le_bytes()));
			at
		}

		fn program(&mut self, ops: &[HostOp]) -> (u32, u32) {
			let at = self.0.len() as u32;
			for op in ops {
				for word in [op.code, op.x, op.y, op.z] {
					self.0.extend(word.to_le_bytes());
				}
			}
			(at, ops.len() as u32)
		}
	}

	fn op(code: u32, x: u32, y: u32, z: u32) -> HostOp {
		HostOp { code, x, y, z }
	}

	/// Writes each of `calls` (a call's words, and the error it must give) at `call` in a copy of
	/// `memory`, and checks that `run` refuses it with that error and writes nothing.
	fn refused_writing_nothing(
		memory: &[u8],
		call: u32,
		calls: impl IntoIterator<Item = (Vec<u32>, ProgramError)>,
		run: impl Fn(&mut [u8], u32, u64) -> Result<u64, RunError>,
	) {
		for (words, error) in calls {
			let mut bad_memory = memory.to_vec();
			let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
			bad_memory[call as usize..call as usize + bytes.len()].copy_from_slice(&bytes);
			let before = bad_memory.clone();
			assert_eq!(run(&mut bad_memory, call, u64::MAX), Err(RunError::Program(error)), "{words:?}");
			assert_eq!(bad_memory, before);
		}
	}

	/// A 2×2 window of stride 1 with a padding of 1 before: the host's pool and depthwise tests'.
	fn window_2x2_padded(planes: u32, height: u32, width: u32, out_height: u32, out_width: u32) -> Window {
		Window {
			planes,
			height,
			width,
			out_height,
			out_width,
			kernel_height: 2,
			kernel_width: 2,
			stride_height: 1,
			stride_width: 1,
			dilation_height: 1,
			dilation_width: 1,
			pad_top: 1,
			pad_left: 1,
		}
	}

	fn floats_at(memory: &[u8], at: u32, n: usize) -> Vec<f32> {
		memory[at as usize..at as usize + 4 * n]
			.chunks_exact(4)
			.map(|b| f32::from_le_bytes(b.try_into().unwrap()))
			.collect()
	}

	fn bits(values: &[f32]) -> Vec<u32> {
		values.iter().map(|v| v.to_bits()).collect()
	}

	/// Values whose products and sums round: any reordering or fusing would show.
	fn awkward(n: usize, seed: u32) -> Vec<f32> {
		let mut x = seed;
		(0..n)
			.map(|_| {
				x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
				((x >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 3.7e3 + 1.0 / 3.0
			})
			.collect()
	}

	#[test]
	fn a_product_is_one_multiply_then_one_add_per_step_on_every_path() {
		let steps = 37;
		let (a, b, start) = (awkward(steps * 8, 1), awkward(steps * 8, 2), awkward(64, 3));
		let mut expected = start.clone();
		for s in 0..steps {
			for e in 0..64 {
				let product = a[s * 8 + e / 8] * b[s * 8 + e % 8];
				expected[e] += product;
			}
		}

		let mut memory = Builder::default();
		let (a_at, b_at) = (memory.floats(&a), memory.floats(&b));
		let (start_at, out_at) = (memory.floats(&start), memory.floats(&[0.0; 64]));
		let (ops, len) = memory.program(&[
			op(OP_LOAD_TILE, start_at, 0, 0),
			op(OP_ADD_MAT_MUL, steps as u32, a_at, b_at),
			op(OP_STORE, out_at, 32, 4),
			op(OP_DONE, 0, 0, 0),
		]);
		let mut memory = memory.0;
		let cost = run_tile_program(&mut memory, ops, len, u64::MAX).unwrap();
		assert_eq!(cost, FUEL_PER_PROGRAM + 3 * FUEL_PER_TILE_OP + FUEL_PER_TILE_MOVED + steps as u64 * FUEL_PER_STEP);
		assert_eq!(bits(&floats_at(&memory, out_at, 64)), bits(&expected));

		// The portable loop, whatever this CPU offers, agrees bit for bit.
		let mut portable: [f32; TILE] = start.clone().try_into().unwrap();
		let bytes = |at: u32| &memory[at as usize..at as usize + steps * STEP_BYTES];
		multiply_accumulate_portable(bytes(a_at), bytes(b_at), steps, &mut portable);
		assert_eq!(bits(&portable), bits(&expected));
		// So does each compilation of the x86-64 loop that this CPU runs (the program above
		// took the widest).
		#[cfg(target_arch = "x86_64")]
		if std::arch::is_x86_feature_detected!("avx") {
			let mut avx: [f32; TILE] = start.clone().try_into().unwrap();
			// SAFETY: the CPU has AVX, and both operands hold `steps` steps.
			unsafe { x86_64::multiply_accumulate_avx(bytes(a_at).as_ptr(), bytes(b_at).as_ptr(), steps, &mut avx) };
			assert_eq!(bits(&avx), bits(&expected));
		}
		// Two tiles side by side (16 lanes a row where the CPU has AVX-512F): each has its bits
		// alone, the second's `b` the first's in reverse.
		let reversed: Vec<f32> = b.iter().rev().copied().collect();
		let reversed_bytes: Vec<u8> = reversed.iter().flat_map(|v| v.to_le_bytes()).collect();
		let mut second_expected: [f32; TILE] = start.clone().try_into().unwrap();
		multiply_accumulate_portable(bytes(a_at), &reversed_bytes, steps, &mut second_expected);
		for steps in [0, 1, steps] {
			let (mut first, mut second): ([f32; TILE], [f32; TILE]) =
				(start.clone().try_into().unwrap(), start.clone().try_into().unwrap());
			let panel = steps * STEP_BYTES;
			let (a, b) = (&bytes(a_at)[..panel], [&bytes(b_at)[..panel], &reversed_bytes[..panel]]);
			multiply_accumulate_pair(a, b, steps, [&mut first, &mut second]);
			let (mut first_alone, mut second_alone): ([f32; TILE], [f32; TILE]) =
				(start.clone().try_into().unwrap(), start.clone().try_into().unwrap());
			multiply_accumulate_portable(a, b[0], steps, &mut first_alone);
			multiply_accumulate_portable(a, b[1], steps, &mut second_alone);
			assert_eq!((bits(&first), bits(&second)), (bits(&first_alone), bits(&second_alone)), "{steps} steps");
		}
		assert_ne!(bits(&second_expected), bits(&expected));
		// A fused multiply-add would have given other bits somewhere.
		let fused: Vec<f32> = (0..64)
			.map(|e| (0..steps).fold(start[e], |acc, s| a[s * 8 + e / 8].mul_add(b[s * 8 + e % 8], acc)))
			.collect();
		assert_ne!(bits(&fused), bits(&expected));
	}

	#[test]
	fn fused_operations_keep_wasm_semantics() {
		let mut memory = Builder::default();
		let mut start = awkward(64, 4);
		start[0] = -0.0;
		start[1] = 0.0;
		start[2] = f32::from_bits(0xffc0_1234);
		let start_at = memory.floats(&start);
		let rows: Vec<f32> = (0..8).map(|i| i as f32 - 3.5).collect();
		let rows_at = memory.floats(&rows);
		let out_at = memory.floats(&[0.0; 64]);
		let (ops, len) = memory.program(&[
			op(OP_LOAD_TILE, start_at, 0, 0),
			op(OP_SCALAR_MAX, 0.0f32.to_bits(), 0, 0),
			op(OP_PER_ROW_SUB_F, rows_at, 0, 0),
			op(OP_LEAKY_RELU, 0.5f32.to_bits(), 0, 0),
			// Column-major: element (i, j) at out + 4i + 32j.
			op(OP_STORE, out_at, 4, 32),
			op(OP_DONE, 0, 0, 0),
		]);
		let mut memory = memory.0;
		run_tile_program(&mut memory, ops, len, u64::MAX).unwrap();
		let out = floats_at(&memory, out_at, 64);
		for (e, &value) in start.iter().enumerate().take(64) {
			let (i, j) = (e / 8, e % 8);
			let relu = if value.is_nan() { f32::NAN } else { value.max(0.0) };
			let shifted = relu - rows[i];
			let expected = if shifted > 0.0 { shifted } else { 0.5 * shifted };
			let got = out[j * 8 + i];
			if expected.is_nan() {
				assert_eq!(got.to_bits(), CANONICAL_NAN, "element {e}");
			} else {
				assert_eq!(got.to_bits(), expected.to_bits(), "element {e}");
			}
		}
		// max(0, -0) is +0 in wasm: then +0 - (-3.5) = 3.5.
		assert_eq!(out[0], 3.5);
	}

	#[test]
	#[cfg(target_arch = "x86_64")]
	fn min_and_max_in_lanes_are_wasm_s_under_ieee() {
		let edges = [
			0.0,
			-0.0,
			1.0,
			-1.5,
			f32::INFINITY,
			f32::NEG_INFINITY,
			f32::MAX,
			f32::MIN_POSITIVE,
			f32::from_bits(1),
			f32::from_bits(0x8000_1234),
			f32::from_bits(0x7fc0_0000),
			f32::from_bits(0xffc0_0001),
			f32::from_bits(0x7f80_0001),
		];
		let pairs: Vec<(f32, f32)> = edges.iter().flat_map(|&a| edges.iter().map(move |&b| (a, b))).collect();
		for chunk in pairs.chunks(TILE) {
			let mut operand = [0f32; TILE];
			let mut tile = [0f32; TILE];
			for (e, &(s, t)) in chunk.iter().enumerate() {
				(operand[e], tile[e]) = (s, t);
			}
			let (mut min, mut max) = (tile, tile);
			wasm_min_max_lanes::<false>(&mut min, &operand);
			wasm_min_max_lanes::<true>(&mut max, &operand);
			for (e, &(s, t)) in chunk.iter().enumerate() {
				assert_eq!(min[e].to_bits(), wasm_min(s, t).to_bits(), "min({s:e}, {t:e})");
				assert_eq!(max[e].to_bits(), wasm_max(s, t).to_bits(), "max({s:e}, {t:e})");
			}
		}
	}

	#[test]
	fn min_and_max_are_wasm_s() {
		assert_eq!(wasm_min(0.0, -0.0).to_bits(), (-0.0f32).to_bits());
		assert_eq!(wasm_min(-0.0, 0.0).to_bits(), (-0.0f32).to_bits());
		assert_eq!(wasm_max(-0.0, 0.0).to_bits(), 0.0f32.to_bits());
		assert_eq!(wasm_max(0.0, -0.0).to_bits(), 0.0f32.to_bits());
		assert_eq!(wasm_min(f32::from_bits(0xffc0_0001), 1.0).to_bits(), CANONICAL_NAN);
		assert_eq!(wasm_max(1.0, f32::from_bits(0x7f80_0001)).to_bits(), CANONICAL_NAN);
		assert_eq!(wasm_min(1.0, 2.0), 1.0);
		assert_eq!(wasm_max(1.0, f32::INFINITY), f32::INFINITY);
	}

	#[test]
	fn a_product_without_steps_leaves_the_tile_as_it_was() {
		let mut memory = Builder::default();
		let mut start = vec![0.5f32; 64];
		start[63] = f32::from_bits(0x7fc0_0042);
		let (start_at, out_at) = (memory.floats(&start), memory.floats(&[0.0; 64]));
		let (ops, len) = memory.program(&[
			op(OP_LOAD_TILE, start_at, 0, 0),
			op(OP_ADD_MAT_MUL, 0, 0, 0),
			op(OP_STORE, out_at, 32, 4),
			op(OP_DONE, 0, 0, 0),
		]);
		let mut memory = memory.0;
		run_tile_program(&mut memory, ops, len, u64::MAX).unwrap();
		assert_eq!(bits(&floats_at(&memory, out_at, 64)), bits(&start));
	}

	#[test]
	fn malformed_or_out_of_bounds_programs_are_refused() {
		let mut builder = Builder::default();
		let out_at = builder.floats(&[0.0; 64]);
		let end = builder.0.len() as u32 + 20 * HOST_OP_BYTES as u32;
		let programs: Vec<(Vec<HostOp>, RunError)> = vec![
			(vec![op(99, 0, 0, 0), op(OP_DONE, 0, 0, 0)], RunError::Program(ProgramError::Malformed)),
			(vec![op(OP_CLEAR, 0, 0, 0)], RunError::Program(ProgramError::Malformed)),
			(vec![op(OP_STORE, end, 32, 4), op(OP_DONE, 0, 0, 0)], RunError::Program(ProgramError::OutOfBounds)),
			(
				vec![op(OP_STORE, out_at, -32i32 as u32, 4), op(OP_DONE, 0, 0, 0)],
				RunError::Program(ProgramError::OutOfBounds),
			),
			(
				vec![op(OP_ADD_MAT_MUL, 1 << 30, 0, 0), op(OP_DONE, 0, 0, 0)],
				RunError::Program(ProgramError::OutOfBounds),
			),
			(
				vec![op(OP_LOAD_TILE, u32::MAX, 0, 0), op(OP_DONE, 0, 0, 0)],
				RunError::Program(ProgramError::OutOfBounds),
			),
		];
		for (ops, expected) in programs {
			let mut builder = Builder(builder.0.clone());
			let (at, len) = builder.program(&ops);
			builder.0.resize(end as usize, 0);
			let mut memory = builder.0;
			assert_eq!(run_tile_program(&mut memory, at, len, u64::MAX), Err(expected), "{ops:?}");
		}
		let mut memory = vec![0u8; 64];
		assert_eq!(run_tile_program(&mut memory, 0, 0, u64::MAX), Err(RunError::Program(ProgramError::Malformed)));
		assert_eq!(run_tile_program(&mut memory, 60, 1, u64::MAX), Err(RunError::Program(ProgramError::OutOfBounds)));
	}

	#[test]
	fn a_program_beyond_the_fuel_left_writes_nothing() {
		let mut builder = Builder::default();
		let out_at = builder.floats(&[7.0; 64]);
		let (ops, len) = builder.program(&[op(OP_CLEAR, 0, 0, 0), op(OP_STORE, out_at, 32, 4), op(OP_DONE, 0, 0, 0)]);
		let mut memory = builder.0;
		let cost = FUEL_PER_PROGRAM + 2 * FUEL_PER_TILE_OP + FUEL_PER_TILE_MOVED;
		let before = memory.clone();
		assert_eq!(run_tile_program(&mut memory, ops, len, cost - 1), Err(RunError::OutOfFuel));
		assert_eq!(memory, before);
		assert_eq!(run_tile_program(&mut memory, ops, len, cost), Ok(cost));
		assert_eq!(floats_at(&memory, out_at, 64), vec![0.0; 64]);
	}

	#[test]
	fn an_lrn_is_paid_before_it_runs_and_reaches_no_byte_outside_memory() {
		let mut memory = Builder::default();
		// One batch, three channels of two elements; a NaN with a payload, which comes out
		// canonical.
		let input = [1.0, 2.0, -3.0, f32::from_bits(0x7fc0_1234), 0.5, 4.0];
		let x = memory.floats(&input);
		let y = memory.floats(&[0.0; 6]);
		let lrn = LrnCall {
			x,
			y,
			batches: 1,
			channels: 3,
			inner: 2,
			size: 3,
			alpha: 1e-1f32.to_bits(),
			beta: 0.75f32.to_bits(),
			bias: 1.0f32.to_bits(),
		};
		let call = memory.0.len() as u32;
		memory.0.extend(lrn.to_words().iter().flat_map(|w| w.to_le_bytes()));
		let cost = lrn.fuel().unwrap();
		assert_eq!(
			cost,
			6 * (veriml_inference_primitives::lrn::LRN_FUEL_PER_ELEMENT
				+ 3 * veriml_inference_primitives::lrn::LRN_FUEL_PER_TAP)
		);

		let mut expected = [0f32; 6];
		lrn_f32(&input, &mut expected, &lrn);
		let untouched = memory.0.clone();
		assert_eq!(run_lrn(&mut memory.0, call, cost - 1), Err(RunError::OutOfFuel));
		assert_eq!(memory.0, untouched, "nothing is written unless it is paid for");
		assert_eq!(run_lrn(&mut memory.0, call, cost), Ok(cost));
		let out = floats_at(&memory.0, y, 6);
		assert_eq!(bits(&out), bits(&expected));
		// Channel 0, element 0: its window is channels 0 and 1 (1·1 + -3·-3 = 10).
		assert!((f64::from(out[0]) - 1.0 / (1.0f64 + 0.1 / 3.0 * 10.0).powf(0.75)).abs() < 1e-6);
		// Elements whose window holds the NaN (channel 1, element 1 is it).
		assert_eq!(out[1].to_bits(), CANONICAL_NAN);
		assert_eq!(out[3].to_bits(), CANONICAL_NAN);

		// An output past the end of memory, a call past it, or a window of no channel: refused.
		let len = memory.0.len() as u32;
		refused_writing_nothing(
			&untouched,
			call,
			[
				(LrnCall { y: len - 8, ..lrn }, ProgramError::OutOfBounds),
				(LrnCall { x: u32::MAX - 3, ..lrn }, ProgramError::OutOfBounds),
				(LrnCall { size: 0, ..lrn }, ProgramError::Malformed),
			]
			.map(|(bad, error)| (bad.to_words().to_vec(), error)),
			run_lrn,
		);
		assert_eq!(run_lrn(&mut memory.0, len - 4, u64::MAX), Err(RunError::Program(ProgramError::OutOfBounds)));
		// A shape whose fuel overflows is out of fuel, whatever is left.
		let huge = LrnCall { batches: u32::MAX, channels: u32::MAX, inner: u32::MAX, ..lrn };
		assert_eq!(huge.fuel(), None);
		// No batch: no element, no fuel, and nothing held for the rows it names (a row of
		// 2^32 - 1 elements would be 16 GiB).
		let empty = LrnCall { batches: 0, inner: u32::MAX, ..lrn };
		memory.0[call as usize..call as usize + LRN_CALL_BYTES]
			.copy_from_slice(&empty.to_words().iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<_>>());
		assert_eq!(run_lrn(&mut memory.0, call, 0), Ok(0));
	}

	#[test]
	fn an_im2col_is_paid_before_it_runs_and_reaches_no_byte_outside_memory() {
		let mut memory = Builder::default();
		// One plane of 3×3, a 2×2 window of stride 1 padded by 1 before: a 4×9 matrix, in
		// panels of 4 columns 16 f32s long (three, the last of one column).
		let input = [1.0, f32::from_bits(0x7fa0_0001), -3.0, 4.0, -0.0, 0.5, 6.0, 7.0, 8.0];
		let x = memory.floats(&input);
		let untouched_value = f32::from_bits(0x7f80_1234);
		let y = memory.floats(&[untouched_value; 48]);
		let im2col = Im2colCall { x, y, panel_width: 4, panel_len: 16, window: window_2x2_padded(1, 3, 3, 3, 3) };
		let call = memory.0.len() as u32;
		memory.0.extend(im2col.to_words().iter().flat_map(|w| w.to_le_bytes()));
		use veriml_inference_primitives::im2col::*;
		let cost = im2col.fuel().unwrap();
		assert_eq!(
			cost,
			IM2COL_FUEL_PER_CALL
				+ 4 * 9 * IM2COL_FUEL_PER_ELEMENT
				+ 4 * 3 * IM2COL_FUEL_PER_ROW
				+ 9 * IM2COL_FUEL_PER_COLUMN
				+ 9 * 4 * IM2COL_FUEL_PER_INPUT_TAP
		);
		let untouched = memory.0.clone();
		assert_eq!(run_im2col(&mut memory.0, call, cost - 1), Err(RunError::OutOfFuel));
		assert_eq!(memory.0, untouched, "nothing is written unless it is paid for");
		assert_eq!(run_im2col(&mut memory.0, call, cost), Ok(cost));
		let out = floats_at(&memory.0, y, 48);
		// Row 3 (the window's bottom right tap) of column 0 is the input's first element; row
		// 0 (top left) of column 0 lies in the padding: +0. Column 4 (output row 1, column 1)
		// opens the second panel: its top left tap is input element 0, its bottom right 4 (-0).
		assert_eq!(out[3 * 4].to_bits(), 1.0f32.to_bits());
		assert_eq!(out[0].to_bits(), 0);
		assert_eq!(out[16].to_bits(), 1.0f32.to_bits());
		assert_eq!(out[16 + 3 * 4].to_bits(), (-0.0f32).to_bits());
		// The NaN's payload is copied: it is element 1, under the bottom right tap of column 1.
		assert_eq!(out[3 * 4 + 1].to_bits(), 0x7fa0_0001);
		// The last panel holds one column: its other lanes and every panel's rows past 4 are
		// not written.
		let mut expected = vec![untouched_value; 48];
		im2col_f32(&input, &mut expected, &im2col);
		assert_eq!(bits(&out), bits(&expected));
		assert!((0..4).all(|kk| (1..4).all(|lane| out[32 + kk * 4 + lane].to_bits() == untouched_value.to_bits())));
		// A memory whose start is not an f32's place is copied out and back: the same bytes, the
		// slots it does not write included.
		let mut shifted = [&[0][..], &untouched].concat();
		assert_eq!(run_im2col(&mut shifted[1..], call, cost), Ok(cost));
		assert_eq!(&shifted[1..], &memory.0[..]);

		// An output past the end of memory, a call past it, an output over the input, a tensor
		// not at an f32's place, panels too short for their rows, a panel width other than 4, 8
		// or 16, or a stride of 0: refused.
		let len = memory.0.len() as u32;
		refused_writing_nothing(
			&untouched,
			call,
			[
				(Im2colCall { y: len - 8, ..im2col }, ProgramError::OutOfBounds),
				(Im2colCall { x: u32::MAX - 3, ..im2col }, ProgramError::OutOfBounds),
				(Im2colCall { y: x + 4, ..im2col }, ProgramError::Malformed),
				(Im2colCall { y: y + 1, ..im2col }, ProgramError::Malformed),
				(Im2colCall { x: x + 2, ..im2col }, ProgramError::Malformed),
				(Im2colCall { panel_len: 15, ..im2col }, ProgramError::Malformed),
				(Im2colCall { panel_width: 0, ..im2col }, ProgramError::Malformed),
				(Im2colCall { panel_width: 1, ..im2col }, ProgramError::Malformed),
				(Im2colCall { window: Window { stride_width: 0, ..im2col.window }, ..im2col }, ProgramError::Malformed),
			]
			.map(|(bad, error)| (bad.to_words().to_vec(), error)),
			run_im2col,
		);
		assert_eq!(run_im2col(&mut memory.0, len - 4, u64::MAX), Err(RunError::Program(ProgramError::OutOfBounds)));
		let huge = Im2colCall {
			window: Window { planes: u32::MAX, out_height: u32::MAX, out_width: u32::MAX, ..im2col.window },
			..im2col
		};
		assert_eq!(huge.fuel(), None);
	}

	#[test]
	fn a_max_pool_is_paid_before_it_runs_and_reaches_no_byte_outside_memory() {
		let mut memory = Builder::default();
		// One plane of 3×3; a 2×2 window of stride 1 with a padding of 1 before: a 3×3 output
		// whose corner windows hold one tap. A NaN is never taken, and a window of `-∞` and
		// NaN only gives `f32::MIN`.
		let input = [1.0, f32::NAN, -3.0, 4.0, f32::NEG_INFINITY, 0.5, -0.0, 0.0, 2.0];
		let x = memory.floats(&input);
		let y = memory.floats(&[9.0; 9]);
		let pool = MaxPoolCall { x, y, window: window_2x2_padded(1, 3, 3, 3, 3) };
		let call = memory.0.len() as u32;
		memory.0.extend(pool.to_words().iter().flat_map(|w| w.to_le_bytes()));
		use veriml_inference_primitives::max_pool::*;
		let cost = pool.fuel().unwrap();
		assert_eq!(
			cost,
			MAX_POOL_FUEL_PER_CALL
				+ 9 * (MAX_POOL_FUEL_PER_ELEMENT + 4 * MAX_POOL_FUEL_PER_TAP)
				+ 3 * 2 * 3 * MAX_POOL_FUEL_PER_WINDOW_ROW
				+ 2 * MAX_POOL_FUEL_PER_WINDOW_COLUMN
				+ 9 * MAX_POOL_FUEL_PER_INPUT
		);
		let untouched = memory.0.clone();
		assert_eq!(run_max_pool(&mut memory.0, call, cost - 1), Err(RunError::OutOfFuel));
		assert_eq!(memory.0, untouched, "nothing is written unless it is paid for");
		assert_eq!(run_max_pool(&mut memory.0, call, cost), Ok(cost));
		let out = floats_at(&memory.0, y, 9);
		assert_eq!(bits(&out), bits(&[1.0, 1.0, -3.0, 4.0, 4.0, 0.5, 4.0, 4.0, 2.0]));

		let corner = MaxPoolCall {
			x: x + 16,
			window: Window { height: 1, width: 1, out_height: 1, out_width: 1, pad_top: 0, pad_left: 0, ..pool.window },
			..pool
		};
		let corner_at = memory.0.len() as u32;
		memory.0.extend(corner.to_words().iter().flat_map(|w| w.to_le_bytes()));
		assert_eq!(run_max_pool(&mut memory.0, corner_at, u64::MAX), Ok(corner.fuel().unwrap()));
		assert_eq!(floats_at(&memory.0, y, 1)[0], f32::MIN, "a window of -∞ alone gives f32::MIN");

		// An output past the end of memory, a call past it, an output over the input, a tensor
		// not at an f32's place, or a stride or dilation of 0: refused.
		let len = memory.0.len() as u32;
		refused_writing_nothing(
			&untouched,
			call,
			[
				(MaxPoolCall { y: len - 8, ..pool }, ProgramError::OutOfBounds),
				(MaxPoolCall { x: u32::MAX - 3, ..pool }, ProgramError::OutOfBounds),
				(MaxPoolCall { y: x + 4, ..pool }, ProgramError::Malformed),
				(MaxPoolCall { y: y + 1, ..pool }, ProgramError::Malformed),
				(MaxPoolCall { x: x + 2, ..pool }, ProgramError::Malformed),
				(MaxPoolCall { window: Window { stride_width: 0, ..pool.window }, ..pool }, ProgramError::Malformed),
				(MaxPoolCall { window: Window { dilation_height: 0, ..pool.window }, ..pool }, ProgramError::Malformed),
			]
			.map(|(bad, error)| (bad.to_words().to_vec(), error)),
			run_max_pool,
		);
		// No plane: nothing to read or write, whatever the window; its columns are paid for.
		let empty = MaxPoolCall { window: Window { planes: 0, kernel_width: u32::MAX, ..pool.window }, ..pool };
		memory.0[call as usize..call as usize + MAX_POOL_CALL_BYTES]
			.copy_from_slice(&empty.to_words().iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<_>>());
		assert_eq!(run_max_pool(&mut memory.0, call, u64::MAX), Ok(empty.fuel().unwrap()));
		assert_eq!(run_max_pool(&mut memory.0, len - 4, u64::MAX), Err(RunError::Program(ProgramError::OutOfBounds)));
		let huge = MaxPoolCall {
			window: Window {
				planes: u32::MAX,
				out_height: u32::MAX,
				out_width: u32::MAX,
				kernel_width: 9,
				..pool.window
			},
			..pool
		};
		assert_eq!(huge.fuel(), None);
	}

	#[test]
	fn a_depthwise_convolution_is_paid_before_it_runs_and_reaches_no_byte_outside_memory() {
		use veriml_inference_primitives::depthwise::*;
		let mut memory = Builder::default();
		// Two planes of 2×3 (channels 0 and 1); a 2×2 kernel of stride 1 with a padding of 1
		// before: 3×4 outputs, the corners one tap each, the rows below the input none but
		// for the last row's. Channel 1's bias is a NaN with a payload, which an element no tap
		// reaches keeps bit for bit and arithmetic makes the canonical NaN.
		let x = memory.floats(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
		let kernel = memory.floats(&[1.0, 10.0, 100.0, 1000.0, 0.5, 0.5, 0.5, 0.5]);
		let payload = f32::from_bits(0x7fc0_1234);
		let bias = memory.floats(&[0.25, payload]);
		let y = memory.floats(&[9.0; 2 * 4 * 5]);
		let conv = DepthwiseCall { x, kernel, bias, y, channels: 2, window: window_2x2_padded(2, 2, 3, 4, 5) };
		let call = memory.0.len() as u32;
		memory.0.extend(conv.to_words().iter().flat_map(|w| w.to_le_bytes()));
		let cost = conv.fuel().unwrap();
		assert_eq!(
			cost,
			DEPTHWISE_FUEL_PER_CALL
				+ 40 * (DEPTHWISE_FUEL_PER_ELEMENT + 4 * DEPTHWISE_FUEL_PER_TAP)
				+ 2 * 4 * 2 * 3 * DEPTHWISE_FUEL_PER_ROW_TAP
				+ (12 + 8 + 2) * DEPTHWISE_FUEL_PER_INPUT
				+ 2 * DEPTHWISE_FUEL_PER_KERNEL_COLUMN
		);
		let untouched = memory.0.clone();
		assert_eq!(run_depthwise(&mut memory.0, call, cost - 1), Err(RunError::OutOfFuel));
		assert_eq!(memory.0, untouched, "nothing is written unless it is paid for");
		assert_eq!(run_depthwise(&mut memory.0, call, cost), Ok(cost));
		let out = floats_at(&memory.0, y, 40);
		// Plane 0: row 0 (ky 1 only: input row 0), row 1 (input rows 0 and 1), row 2 (ky 0 only:
		// input row 1), row 3 (none); column 0 (kx 1 only), 1-2 (both), 3 (kx 0 only), 4 (none).
		let plane_0 = [
			0.25 + 1000.0,
			0.25 + 100.0 + 2000.0,
			0.25 + 200.0 + 3000.0,
			0.25 + 300.0,
			0.25,
			0.25 + 10.0 + 4000.0,
			0.25 + 1.0 + 20.0 + 400.0 + 5000.0,
			0.25 + 2.0 + 30.0 + 500.0 + 6000.0,
			0.25 + 3.0 + 600.0,
			0.25,
			0.25 + 40.0,
			0.25 + 4.0 + 50.0,
			0.25 + 5.0 + 60.0,
			0.25 + 6.0,
			0.25,
			0.25,
			0.25,
			0.25,
			0.25,
			0.25,
		];
		assert_eq!(bits(&out[..20]), bits(&plane_0));
		for (i, v) in out[20..].iter().enumerate() {
			let (row, column) = (i / 5, i % 5);
			let reached = row < 3 && column < 4;
			let expected = if reached { CANONICAL_NAN } else { payload.to_bits() };
			assert_eq!(v.to_bits(), expected, "plane 1, element {i}");
		}

		// An output past the end of memory, a call or a kernel past it, an output over the
		// input, the kernel or the bias, a tensor not at an f32's place, no channel, or a stride
		// or dilation of 0: refused.
		let len = memory.0.len() as u32;
		refused_writing_nothing(
			&untouched,
			call,
			[
				(DepthwiseCall { y: len - 8, ..conv }, ProgramError::OutOfBounds),
				(DepthwiseCall { kernel: len - 8, ..conv }, ProgramError::OutOfBounds),
				(DepthwiseCall { x: u32::MAX - 3, ..conv }, ProgramError::OutOfBounds),
				(DepthwiseCall { y: x + 4, ..conv }, ProgramError::Malformed),
				(DepthwiseCall { y: kernel, ..conv }, ProgramError::Malformed),
				(DepthwiseCall { y: bias - 4, ..conv }, ProgramError::Malformed),
				(DepthwiseCall { y: y + 1, ..conv }, ProgramError::Malformed),
				(DepthwiseCall { x: x + 2, ..conv }, ProgramError::Malformed),
				(DepthwiseCall { kernel: kernel + 3, ..conv }, ProgramError::Malformed),
				(DepthwiseCall { bias: bias + 1, ..conv }, ProgramError::Malformed),
				(DepthwiseCall { channels: 0, ..conv }, ProgramError::Malformed),
				(DepthwiseCall { window: Window { stride_width: 0, ..conv.window }, ..conv }, ProgramError::Malformed),
				(
					DepthwiseCall { window: Window { dilation_height: 0, ..conv.window }, ..conv },
					ProgramError::Malformed,
				),
			]
			.map(|(bad, error)| (bad.to_words().to_vec(), error)),
			run_depthwise,
		);
		assert_eq!(run_depthwise(&mut memory.0, len - 4, u64::MAX), Err(RunError::Program(ProgramError::OutOfBounds)));
		let huge = DepthwiseCall {
			window: Window {
				planes: u32::MAX,
				out_height: u32::MAX,
				out_width: u32::MAX,
				kernel_width: 9,
				..conv.window
			},
			..conv
		};
		assert_eq!(huge.fuel(), None);
	}

	#[test]
	fn an_element_wise_chain_is_paid_before_it_runs_and_reaches_no_byte_outside_memory() {
		use veriml_inference_primitives::bin_chain::*;
		let mut memory = Builder::default();
		// Two channels of three: multiplied by a channel's scale, a ReLU (a max with 0), then a
		// row of three added in lockstep. The max answers its operand for a NaN and for -0 (so
		// -0 · 2 + -0 is +0); a NaN the add makes of a payload comes out the canonical NaN.
		let payload = f32::from_bits(0x7fc0_1234);
		let x = memory.floats(&[1.0, -0.0, payload, 4.0, 0.5, -0.0]);
		let scale = memory.floats(&[2.0, 10.0]);
		let zero = memory.floats(&[0.0]);
		let row = memory.floats(&[0.25, -0.0, payload]);
		let y = memory.floats(&[9.0; 6]);
		let step = |op: ChainOp, b: u32, b_elements: u32, share: Share| ChainStep {
			op: op as u32,
			b,
			b_elements,
			share: share as u32,
		};
		let mut chain = BinChainCall { x, y, elements: 6, count: 3, ..Default::default() };
		chain.steps[0] = step(ChainOp::Mul, scale, 2, Share::PerBlock);
		chain.steps[1] = step(ChainOp::Max, zero, 1, Share::Lockstep);
		chain.steps[2] = step(ChainOp::Add, row, 3, Share::Lockstep);
		let call = memory.0.len() as u32;
		memory.0.extend(chain.to_words().iter().flat_map(|w| w.to_le_bytes()));
		let cost = chain.fuel().unwrap();
		assert_eq!(
			cost,
			CHAIN_FUEL_PER_CALL
				+ 6 * CHAIN_FUEL_PER_ELEMENT
				+ 3 * CHAIN_FUEL_PER_STEP
				+ 6 * (3 * CHAIN_FUEL_PER_STEP_ELEMENT + CHAIN_FUEL_PER_OPERAND_ELEMENT)
				// Runs: two blocks, one scalar and two periods, each step's and its tile's.
				+ (2 + 1 + 1 + 1 + 2 + 1) * CHAIN_FUEL_PER_RUN
		);
		let untouched = memory.0.clone();
		assert_eq!(run_bin_chain(&mut memory.0, call, cost - 1), Err(RunError::OutOfFuel));
		assert_eq!(memory.0, untouched, "nothing is written unless it is paid for");
		assert_eq!(run_bin_chain(&mut memory.0, call, cost), Ok(cost));
		let canonical = f32::from_bits(CANONICAL_NAN);
		let expected = [2.25, 0.0, canonical, 40.25, 5.0, canonical];
		assert_eq!(bits(&floats_at(&memory.0, y, 6)), bits(&expected));
		assert_eq!(floats_at(&memory.0, x, 6)[3], 4.0, "the accumulator apart from the output is only read");
		// In place: the same bits over the accumulator itself.
		let mut in_place = untouched.clone();
		let same = BinChainCall { y: x, ..chain };
		in_place[call as usize..][..4 * BIN_CHAIN_CALL_WORDS]
			.copy_from_slice(&same.to_words().iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<_>>());
		assert_eq!(run_bin_chain(&mut in_place, call, cost), Ok(cost));
		assert_eq!(bits(&floats_at(&in_place, x, 6)), bits(&expected));
		// A memory whose start is not an f32's place is copied out and back: the same bits.
		let mut shifted = [&[0][..], &untouched].concat();
		assert_eq!(run_bin_chain(&mut shifted[1..], call, cost), Ok(cost));
		assert_eq!(bits(&floats_at(&shifted[1..], y, 6)), bits(&expected));

		// An output or an operand past the end of memory, an output over part of the
		// accumulator or over an operand, an operand that does not divide the accumulator, an
		// unaligned output, no step or too many: refused.
		let len = memory.0.len() as u32;
		let with_step = |index: usize, changed: ChainStep| {
			let mut bad = chain;
			bad.steps[index] = changed;
			bad
		};
		refused_writing_nothing(
			&untouched,
			call,
			[
				(BinChainCall { y: len - 8, ..chain }, ProgramError::OutOfBounds),
				(with_step(2, ChainStep { b: len - 8, ..chain.steps[2] }), ProgramError::OutOfBounds),
				(BinChainCall { x: u32::MAX - 3, ..chain }, ProgramError::OutOfBounds),
				(BinChainCall { y: x + 4, ..chain }, ProgramError::Malformed),
				(BinChainCall { y: scale - 4, ..chain }, ProgramError::Malformed),
				(with_step(2, ChainStep { b: y + 20, ..chain.steps[2] }), ProgramError::Malformed),
				(with_step(0, ChainStep { b_elements: 4, ..chain.steps[0] }), ProgramError::Malformed),
				(with_step(0, ChainStep { op: 6, ..chain.steps[0] }), ProgramError::Malformed),
				(BinChainCall { y: y + 2, ..chain }, ProgramError::Malformed),
				(BinChainCall { count: 0, ..chain }, ProgramError::Malformed),
				(BinChainCall { count: 17, ..chain }, ProgramError::Malformed),
			]
			.map(|(bad, error)| (bad.to_words().to_vec(), error)),
			run_bin_chain,
		);
		assert_eq!(run_bin_chain(&mut memory.0, len - 4, u64::MAX), Err(RunError::Program(ProgramError::OutOfBounds)));
	}

	/// A product of `m × n` over `k` steps in a fresh memory: its panels, per-row and per-column
	/// operands, a unicast operand and an output (row-major, `out_cols` columns), the program
	/// of tile (0, 0) and the call. Answers the memory, the call's address and the output's.
	fn whole_product(m: u32, n: u32, k: u32, out_cols: u32) -> (Vec<u8>, u32, u32) {
		let mut memory = Builder::default();
		let (down, right) = (m.div_ceil(8), n.div_ceil(8));
		let mut a = awkward((down * 8 * k) as usize, 1);
		a[5] = f32::NAN;
		let b = awkward((right * 8 * k) as usize, 2);
		let (a, b) = (memory.floats(&a), memory.floats(&b));
		let rows = memory.floats(&awkward(m as usize, 3));
		let cols = memory.floats(&awkward(n as usize, 4));
		let unicast = memory.floats(&awkward((m * out_cols) as usize, 5));
		let out = memory.floats(&vec![7.0; (m.div_ceil(8) * 8 * out_cols) as usize]);
		let (ops, len) = memory.program(&[
			op(OP_CLEAR, 0, 0, 0),
			op(OP_ADD_MAT_MUL, k, a, b),
			op(OP_PER_ROW_ADD, rows, 0, 0),
			op(OP_PER_COL_MUL, cols, 0, 0),
			op(OP_ADD_UNICAST, unicast, 4 * out_cols, 4),
			op(OP_SCALAR_MAX, (-1.0e5f32).to_bits(), 0, 0),
			op(OP_STORE, out, 4 * out_cols, 4),
			op(OP_DONE, 0, 0, 0),
		]);
		let call = MatMulCall { ops, len, m, n, a_panel_stride: 32 * k, b_panel_stride: 32 * k };
		let at = memory.0.len() as u32;
		for word in call.to_words() {
			memory.0.extend(word.to_le_bytes());
		}
		(memory.0, at, out)
	}

	/// `memory` with the store (op 6) of [`whole_product`]'s program writing a column-major
	/// output of `m` rows (rounded up to tiles).
	fn column_major(memory: &[u8], call: u32, m: u32) -> Vec<u8> {
		let words = MatMulCall::from_words(GuestMemory(&mut memory.to_vec()).words(call).unwrap());
		let (program, _) = read_program(&GuestMemory(&mut memory.to_vec()), words.ops, words.len).unwrap();
		let store = program[6];
		let mut memory = memory.to_vec();
		let at = words.ops as usize + 6 * HOST_OP_BYTES;
		for (i, word) in [store.code, store.x, 4, 4 * m.div_ceil(8) * 8].into_iter().enumerate() {
			memory[at + 4 * i..at + 4 * i + 4].copy_from_slice(&word.to_le_bytes());
		}
		memory
	}

	/// `memory` after each tile's own program of the whole product at `call` (whole tiles only),
	/// its operands moved to the tile, through `run_tile_program`, tile by tile; and the fuel of
	/// one tile's program.
	fn each_tile_alone(memory: &[u8], call: u32) -> (Vec<u8>, u64) {
		let mut by_tiles = memory.to_vec();
		let whole = MatMulCall::from_words(GuestMemory(&mut by_tiles).words(call).unwrap());
		let (program, per_program) = read_program(&GuestMemory(&mut by_tiles), whole.ops, whole.len).unwrap();
		assert!(whole.m % 8 == 0 && whole.n % 8 == 0, "whole tiles only");
		for d in 0..whole.m / 8 {
			for r in 0..whole.n / 8 {
				let moved: Vec<HostOp> = program[..whole.len as usize].iter().map(|op| whole.moved(op, d, r)).collect();
				let (ops, len) = {
					let at = by_tiles.len() as u32;
					let mut builder = Builder(std::mem::take(&mut by_tiles));
					let placed = builder.program(&moved);
					by_tiles = builder.0;
					assert_eq!(placed.0, at);
					placed
				};
				run_tile_program(&mut by_tiles, ops, len, u64::MAX).unwrap();
			}
		}
		(by_tiles, per_program)
	}

	/// `memory` with `words` as the call at `call`.
	fn with_call(memory: &[u8], call: u32, words: MatMulCall) -> Vec<u8> {
		let mut memory = memory.to_vec();
		for (i, word) in words.to_words().into_iter().enumerate() {
			memory[call as usize + 4 * i..call as usize + 4 * i + 4].copy_from_slice(&word.to_le_bytes());
		}
		memory
	}

	#[test]
	fn a_whole_product_gives_every_element_its_tile_programs_bits() {
		let (m, n, k, out_cols) = (24, 16, 13, 16);
		let (mut memory, call, out) = whole_product(m, n, k, out_cols);
		// Each tile's own program, its operands moved to it, through `run_tile_program`.
		let (by_tiles, per_program) = each_tile_alone(&memory, call);
		let cost = run_mat_mul(&mut memory, call, u64::MAX, None).unwrap();
		let len = (m * out_cols) as usize;
		assert_eq!(bits(&floats_at(&memory, out, len)), bits(&floats_at(&by_tiles, out, len)));
		assert!(floats_at(&memory, out, len).iter().any(|v| v.to_bits() == CANONICAL_NAN));
		// Paid as the tiles' programs were, less a program's fixed cost per tile and plus a tile's.
		let tiles = u64::from(m / 8 * (n / 8));
		assert_eq!(cost, FUEL_PER_PROGRAM + tiles * (per_program - FUEL_PER_PROGRAM + FUEL_PER_PRODUCT_TILE));

		// The same product cut at 19 × 13: the same bits inside, nothing written outside.
		let (cut, call, _) = whole_product(m, n, k, out_cols);
		let words = MatMulCall::from_words(GuestMemory(&mut cut.clone()).words(call).unwrap());
		let mut cut = with_call(&cut, call, MatMulCall { m: 19, n: 13, ..words });
		run_mat_mul(&mut cut, call, u64::MAX, None).unwrap();
		let (whole, cut) = (floats_at(&memory, out, len), floats_at(&cut, out, len));
		for i in 0..m as usize {
			for j in 0..out_cols as usize {
				let e = i * out_cols as usize + j;
				let expected = if i < 19 && j < 13 { whole[e] } else { 7.0 };
				assert_eq!(cut[e].to_bits(), expected.to_bits(), "({i}, {j})");
			}
		}
	}

	/// Tiles side by side run as pairs where the product's stores are apart (its tiles'
	/// products of panels together, 16 lanes a row where the CPU has AVX-512F): every element
	/// has the bits of its tile's own program, over row-major and column-major outputs, across
	/// an even and an odd number of tiles (pairs and a tile alone), and over blocks of the right
	/// operand's panels that hold one panel (shared dimension 8 192) or three.
	#[test]
	fn tiles_run_in_pairs_give_every_element_its_tile_programs_bits() {
		for (m, n, k) in [(16, 32, 11), (24, 40, 7), (16, 24, 8_192), (8, 56, 2_731)] {
			let (memory, call, out) = whole_product(m, n, k, n);
			let words = MatMulCall::from_words(GuestMemory(&mut memory.clone()).words(call).unwrap());
			let (program, _) = read_program(&GuestMemory(&mut memory.clone()), words.ops, words.len).unwrap();
			assert!(words.stores_apart(&program[..words.len as usize - 1], call));
			for memory in [memory.clone(), column_major(&memory, call, m)] {
				let (alone, _) = each_tile_alone(&memory, call);
				let mut paired = memory.clone();
				run_mat_mul(&mut paired, call, u64::MAX, None).unwrap();
				let len = (m * n) as usize;
				assert_eq!(bits(&floats_at(&paired, out, len)), bits(&floats_at(&alone, out, len)), "{m} × {n} × {k}");
				assert_ne!(floats_at(&paired, out, len), floats_at(&memory, out, len));
			}
		}
		// The store moved 8 columns onto the unicast operand: each tile writes what the tile to
		// its right reads, so the tiles' order decides bits, and they run one by one.
		let (m, n) = (16, 32);
		let (mut memory, call, _) = whole_product(m, n, 5, n);
		let words = MatMulCall::from_words(GuestMemory(&mut memory.clone()).words(call).unwrap());
		let (program, _) = read_program(&GuestMemory(&mut memory.clone()), words.ops, words.len).unwrap();
		let onto = program[4].x + 32;
		let at = words.ops as usize + 6 * HOST_OP_BYTES + 4;
		memory[at..at + 4].copy_from_slice(&onto.to_le_bytes());
		let (program, _) = read_program(&GuestMemory(&mut memory.clone()), words.ops, words.len).unwrap();
		assert!(!words.stores_apart(&program[..words.len as usize - 1], call));
		let (alone, _) = each_tile_alone(&memory, call);
		let mut whole = memory.clone();
		run_mat_mul(&mut whole, call, u64::MAX, None).unwrap();
		let len = (m * n) as usize + 8;
		assert_eq!(bits(&floats_at(&whole, onto, len)), bits(&floats_at(&alone, onto, len)));
	}

	/// A program that does not start with `CLEAR` starts each tile from the values the tile
	/// before it left: its tiles run one by one, in order, on one thread whatever the pool, and
	/// never in pairs (a pair's second tile, or each thread's first, would have started from a
	/// cleared tile).
	#[test]
	fn tiles_that_start_from_the_tile_before_run_one_by_one_on_one_thread() {
		let k = 5;
		let mut memory = Builder::default();
		let (a, b) = (awkward(8 * k, 1), awkward(2 * 8 * k, 2));
		let (a_at, b_at) = (memory.floats(&a), memory.floats(&b));
		let out = memory.floats(&[7.0; 8 * 16]);
		let program = [op(OP_ADD_MAT_MUL, k as u32, a_at, b_at), op(OP_STORE, out, 64, 4)];
		let (ops, len) = memory.program(&[program[0], program[1], op(OP_DONE, 0, 0, 0)]);
		let call = MatMulCall { ops, len, m: 8, n: 16, a_panel_stride: 32 * k as u32, b_panel_stride: 32 * k as u32 };
		let call_at = memory.0.len() as u32;
		for word in call.to_words() {
			memory.0.extend(word.to_le_bytes());
		}
		let memory = memory.0;
		assert!(call.stores_apart(&program, call_at));
		assert!(!tiles_independent(&call, &program, call_at));
		// The two tiles in turn, the second from the first's sums.
		let bytes = |values: &[f32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
		let (mut tile, mut expected) = ([0f32; TILE], vec![0f32; 8 * 16]);
		for r in 0..2 {
			multiply_accumulate_portable(&bytes(&a), &bytes(&b[r * 8 * k..(r + 1) * 8 * k]), k, &mut tile);
			for i in 0..8 {
				expected[i * 16 + r * 8..i * 16 + r * 8 + 8].copy_from_slice(&tile[i * 8..i * 8 + 8]);
			}
		}
		let mut one = memory.clone();
		run_mat_mul(&mut one, call_at, u64::MAX, None).unwrap();
		assert_eq!(bits(&floats_at(&one, out, 8 * 16)), bits(&expected));
		let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
		let mut two = memory.clone();
		run_mat_mul(&mut two, call_at, u64::MAX, Some(&pool)).unwrap();
		assert!(two == one, "on two threads");
	}

	/// A product split between threads, each tile whole on one of them, writes the same bytes
	/// for the same fuel as on one thread: row-major and column-major outputs, bands of tiles
	/// that do not divide evenly, more threads than bands. A product whose store overlaps an
	/// operand it reads (so the order of its tiles decides bits) runs on one thread.
	#[test]
	fn a_product_split_between_threads_gives_the_bits_of_one_thread() {
		for (m, n, k, out_cols) in [(24, 16, 13, 16), (19, 13, 5, 13), (67, 41, 9, 41), (8, 200, 3, 200)] {
			let (memory, call, _) = whole_product(m, n, k, out_cols);
			for memory in [memory.clone(), column_major(&memory, call, m)] {
				let mut one = memory.clone();
				let cost = run_mat_mul(&mut one, call, u64::MAX, None).unwrap();
				assert_ne!(one, memory);
				for threads in [2, 3, 8] {
					let pool = rayon::ThreadPoolBuilder::new().num_threads(threads - 1).build().unwrap();
					let mut split = memory.clone();
					assert_eq!(run_mat_mul(&mut split, call, u64::MAX, Some(&pool)), Ok(cost));
					assert!(split == one, "{m} × {n} on {threads} threads");
				}
			}
		}
		let (memory, call, _) = whole_product(67, 41, 9, 41);
		let words = MatMulCall::from_words(GuestMemory(&mut memory.clone()).words(call).unwrap());
		let (program, per_program) = read_program(&GuestMemory(&mut memory.clone()), words.ops, words.len).unwrap();
		let ops = &program[..words.len as usize - 1];
		assert_eq!(
			product_threads(&words, tiles_independent(&words, ops, call), per_program, 4),
			4,
			"split into bands"
		);
		let transposed = column_major(&memory, call, 67);
		let (program_t, _) = read_program(&GuestMemory(&mut transposed.clone()), words.ops, words.len).unwrap();
		let independent = tiles_independent(&words, &program_t[..words.len as usize - 1], call);
		assert_eq!(product_threads(&words, independent, per_program, 3), 3);
		// The store moved onto the unicast operand (read by every tile): one thread, whatever
		// may run it.
		let unicast = program[4];
		let overlapping: Vec<HostOp> =
			ops.iter().map(|op| if op.code == OP_STORE { HostOp { x: unicast.x, ..*op } } else { *op }).collect();
		assert_eq!(product_threads(&words, tiles_independent(&words, &overlapping, call), per_program, 4), 1);
	}

	#[test]
	fn a_whole_product_is_paid_before_it_runs_and_reaches_no_byte_outside_memory() {
		let (memory, call, _) = whole_product(19, 13, 5, 13);
		let mut paid = memory.clone();
		let cost = run_mat_mul(&mut paid, call, u64::MAX, None).unwrap();
		let mut short = memory.clone();
		assert_eq!(run_mat_mul(&mut short, call, cost - 1, None), Err(RunError::OutOfFuel));
		assert_eq!(short, memory);
		let words = MatMulCall::from_words(GuestMemory(&mut memory.clone()).words(call).unwrap());
		let end = memory.len() as u32;
		let (program, _) = read_program(&GuestMemory(&mut memory.clone()), words.ops, words.len).unwrap();
		let with_op = |index: usize, replaced: HostOp| {
			let mut memory = memory.clone();
			let at = (words.ops as usize) + index * HOST_OP_BYTES;
			for (i, word) in [replaced.code, replaced.x, replaced.y, replaced.z].into_iter().enumerate() {
				memory[at + 4 * i..at + 4 * i + 4].copy_from_slice(&word.to_le_bytes());
			}
			memory
		};
		let refused = |memory: Vec<u8>, error: ProgramError| {
			let mut bad = memory.clone();
			assert_eq!(run_mat_mul(&mut bad, call, u64::MAX, None), Err(RunError::Program(error)));
			assert_eq!(bad, memory);
		};
		// The last tile's panel of the left operand, the last column's per-column operand and
		// the store's last row each one element past memory.
		let a = program[1];
		refused(with_op(1, HostOp { y: end - 2 * 32 * a.x - 32 * a.x + 4, ..a }), ProgramError::OutOfBounds);
		refused(with_op(3, op(OP_PER_COL_MUL, end - 4 * 13 + 4, 0, 0)), ProgramError::OutOfBounds);
		let store = program[6];
		refused(with_op(6, HostOp { x: end - 18 * store.y - 4 * 13 + 4, ..store }), ProgramError::OutOfBounds);
		// One element less, each is inside memory and runs.
		for (index, moved) in [
			(1, HostOp { y: end - 2 * 32 * a.x - 32 * a.x, ..a }),
			(3, op(OP_PER_COL_MUL, end - 4 * 13, 0, 0)),
			(6, HostOp { x: end - 18 * store.y - 4 * 13, ..store }),
		] {
			assert_eq!(run_mat_mul(&mut with_op(index, moved), call, u64::MAX, None), Ok(cost));
		}
		// A store that reaches below address 0.
		refused(with_op(6, HostOp { x: 0, y: (-4i32) as u32, ..store }), ProgramError::OutOfBounds);
		// A whole product has no tile to load; an unknown operation is refused.
		refused(with_op(0, op(OP_LOAD_TILE, 0, 0, 0)), ProgramError::Malformed);
		refused(with_op(0, op(99, 0, 0, 0)), ProgramError::Malformed);
		// Sizes whose tiles' fuel passes u64 are beyond any fuel, and nothing runs.
		let mut huge = with_call(&memory, call, MatMulCall { m: u32::MAX, n: u32::MAX, ..words });
		let before = huge.clone();
		assert_eq!(run_mat_mul(&mut huge, call, u64::MAX - 1, None), Err(RunError::OutOfFuel));
		assert_eq!(huge, before);
		// An empty product pays its program's fixed cost and writes nothing.
		let mut empty = with_call(&memory, call, MatMulCall { m: 0, ..words });
		let before = empty.clone();
		assert_eq!(run_mat_mul(&mut empty, call, u64::MAX, None), Ok(FUEL_PER_PROGRAM));
		assert_eq!(empty, before);
	}

	#[test]
	fn a_tile_store_pays_for_the_memory_it_touches() {
		// One tile stored row-major, column-major, and with every element 64 bytes from the next.
		let mut builder = Builder::default();
		let out = builder.floats(&[0.0; 8 * 8 * 16]);
		let mut costs = Vec::new();
		for (rows, cols) in [(32, 4), (4, 32), (64 * 8, 64)] {
			let (ops, len) =
				builder.program(&[op(OP_CLEAR, 0, 0, 0), op(OP_STORE, out, rows, cols), op(OP_DONE, 0, 0, 0)]);
			costs.push(run_tile_program(&mut builder.0.clone(), ops, len, u64::MAX).unwrap());
		}
		let fixed = FUEL_PER_PROGRAM + 2 * FUEL_PER_TILE_OP;
		assert_eq!(costs, [1, 2, 8].map(|times| fixed + times * FUEL_PER_TILE_MOVED));
	}
}
