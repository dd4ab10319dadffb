//! tract's f32 matrix products handed to the host whole.
//!
//! The host kernel (`host_kernel.rs`) took tract's products one 8×8 tile at a time: for each
//! tile, tract's driver in wasm prepared the tile's kernel program (operands moved to the
//! tile, border tiles through scratch buffers), the guest translated it and called the host.
//! On SqueezeNet that hand-over cost about as much as the tiles' arithmetic. [`HostMatMul`] is
//! the same kernel to tract, but its driver hands a product the host can take to the host in one
//! call (`veriml.run_mat_mul`): the program of tile `(0, 0)`, which the host runs on every tile
//! with its operands moved as tract's driver moves them (a `MatMulCall` of
//! `veriml_inference_primitives::host_kernel`). Every element gets the operations of its tile, so
//! the bits are the tile kernel's, which are tract's `wasm_f32_8x8`'s.
//!
//! tract keeps its output stores' pointers and strides to itself; the guest learns tile
//! `(0, 0)`'s program by running tract's own driver for that one tile with a kernel that only
//! records what it is given ([`probe`]). A product goes to the host when its inputs are f32
//! panels of 8, packed eagerly a fixed distance apart (or, a single product's right operand,
//! lazily: the guest packs them in blocks), its program translates and its stores overlap
//! nothing else; any other product takes tract's driver, tile by tile. [`check`] runs random
//! products through tract's `wasm_f32_8x8` and the host and counts the differences (at start-up).

use crate::host_kernel::{translate, Lcg};
use std::{borrow::Cow, cell::Cell};
use tract_linalg::{
	mmm::{
		AsInputValue, DynKernel, EagerPackedInput, FusedKerSpec, FusedSpec, MMMInputFormat, MMMInputValue, MatMatMul,
		OutputStoreSpec, ScratchSpace, ScratchSpaceImpl,
	},
	wasm::wasm_f32_8x8,
	BinOp, WeightType,
};
use tract_onnx::{prelude::*, tract_hir::internal::*};
use veriml_inference_primitives::host_kernel::*;

#[link(wasm_import_module = "veriml")]
extern "C" {
	/// Runs the [`MatMulCall`] whose six words are at `call`. Charges its fuel first and traps
	/// when the fuel runs out, an operand lies outside memory or the program is malformed.
	fn run_mat_mul(call: *const u32);
}

thread_local! {
	/// What [`probe`] was last given, translated: tile `(0, 0)`'s program and its length.
	static PROBED: Cell<Option<([HostOp; MAX_PROGRAM_OPS], usize)>> = const { Cell::new(None) };
}

/// A kernel that computes nothing: it records the program tract's driver gives it.
unsafe fn probe(program: &[FusedKerSpec<f32>]) -> isize {
	let mut ops = [HostOp::default(); MAX_PROGRAM_OPS];
	let translated = translate(program, &mut ops).map(|len| (ops, len));
	PROBED.with(|probed| probed.set(translated));
	0
}

/// The host kernel as tract sees it ([`DynKernel`], its packings, its tile programs), with a
/// driver that hands whole products to the host.
#[derive(Clone, Debug)]
pub struct HostMatMul {
	/// The kernel whose tiles tract's driver runs where a product does not go whole.
	tiles: DynKernel<TILE_ROWS, TILE_COLS, f32>,
	/// The same packings with [`probe`] as its kernel.
	probe: DynKernel<TILE_ROWS, TILE_COLS, f32>,
}

/// A product's scratch space: tract's for its driver, and the host's.
struct HostScratch {
	tiles: Box<dyn ScratchSpace>,
	product: ProductScratch,
}

impl ScratchSpace for HostScratch {}

/// The scratch of products handed to the host: the probe's, and a buffer for lazily packed
/// panels.
#[derive(Default)]
struct ProductScratch {
	probe: ScratchSpaceImpl<f32>,
	panels: Vec<u8>,
}

impl ProductScratch {
	/// `bytes` of the panel buffer, aligned to `align`.
	fn panels(&mut self, bytes: usize, align: usize) -> *mut u8 {
		self.panels.resize(self.panels.len().max(bytes + align), 0);
		let start = self.panels.as_mut_ptr();
		unsafe { start.add(start.align_offset(align)) }
	}
}

impl HostMatMul {
	pub fn new(tiles: DynKernel<TILE_ROWS, TILE_COLS, f32>) -> Self {
		let probe = DynKernel::new("veriml_probe", probe, tiles.regular_pack_a(), tiles.regular_pack_b());
		Self { tiles, probe }
	}

	/// Runs the product on the host, in one call or (a right operand packed lazily) one call
	/// per block of its columns; `false` (nothing done) where it does not go to the host.
	///
	/// # Safety
	/// As tract's `run_with_scratch_space`: `specs` name live tensors of `m × n` products.
	unsafe fn run_whole(
		&self,
		m: usize,
		n: usize,
		scratch: &mut ProductScratch,
		specs: &[FusedSpec],
		lazy_block_bytes: usize,
	) -> TractResult<bool> {
		let (Ok(m), Ok(n)) = (u32::try_from(m), u32::try_from(n)) else { return Ok(false) };
		if m == 0 || n == 0 {
			return Ok(false);
		}
		// Panels of 8 f32 as the tile kernel reads them: packed eagerly a fixed distance apart,
		// or (the right operand of the product's only matrix product) packed lazily, panel by
		// panel, by tract's lazy im2col.
		let f32_panels = |input: &dyn MMMInputValue| {
			input.format().r() == TILE_COLS && input.format().precursor() == WeightType::Plain(DatumType::F32)
		};
		let eager = |input: &dyn MMMInputValue| {
			input.downcast_ref::<EagerPackedInput>().and_then(|eager| u32::try_from(eager.panel_bytes).ok())
		};
		let products = specs.iter().filter(|spec| matches!(spec, FusedSpec::AddMatMul { .. })).count();
		let mut strides = None;
		let mut lazy = None;
		for spec in specs {
			if let FusedSpec::AddMatMul { a, b, packing } = spec {
				let (a, b): (&dyn MMMInputValue, &dyn MMMInputValue) = (&**a, &**b);
				if *packing != 0 || a.k() != b.k() || !f32_panels(a) || !f32_panels(b) {
					return Ok(false);
				}
				let Some(a_stride) = eager(a) else { return Ok(false) };
				let b_stride = match (eager(b), b.scratch_panel_buffer_layout()) {
					(Some(stride), _) => stride,
					(None, Some(layout)) if products == 1 => {
						lazy = Some((b, layout));
						0
					},
					_ => return Ok(false),
				};
				if strides.is_some_and(|s| s != (a_stride, b_stride)) {
					return Ok(false);
				}
				strides = Some((a_stride, b_stride));
			}
		}
		let (a_panel_stride, b_panel_stride) = strides.unwrap_or_default();
		// Tile (0, 0)'s program: tract's driver for that one tile, on a product it sees as one
		// whole tile, so that no store goes through a scratch buffer.
		PROBED.with(|probed| probed.set(None));
		unsafe {
			scratch.probe.prepare(&self.probe, TILE_ROWS, TILE_COLS, specs)?;
			scratch.probe.run(&self.probe, specs, 0, 0)?;
		}
		let Some((ops, len)) = PROBED.with(Cell::take) else { return Ok(false) };
		let Some((b, layout)) = lazy else {
			let call = MatMulCall { ops: address(ops.as_ptr()), len: len as u32, m, n, a_panel_stride, b_panel_stride };
			return Ok(unsafe { hand_over(&call, &ops[..len]) });
		};
		// A lazily packed right operand: its panels packed in blocks of about
		// `lazy_block_bytes`, each block of columns a product of its own whose operands are
		// moved to its first column (as the host moves them to a tile).
		let panel = layout.pad_to_align();
		let per_block = (lazy_block_bytes / panel.size().max(1)).max(1);
		let Ok(stride) = u32::try_from(panel.size()) else { return Ok(false) };
		let panels = n.div_ceil(TILE_COLS as u32) as usize;
		let buffer = scratch.panels(panel.size() * per_block.min(panels), panel.align());
		// The block of `count` panels from panel `first`: its call and program.
		let whole = MatMulCall { a_panel_stride, b_panel_stride: stride, ..Default::default() };
		let block_of = |first: usize, count: usize| {
			let mut block = [HostOp::default(); MAX_PROGRAM_OPS];
			for (moved, op) in block.iter_mut().zip(&ops[..len]) {
				*moved = whole.moved(op, 0, first as u32);
				if moved.code == OP_ADD_MAT_MUL {
					moved.z = address(buffer);
				}
			}
			let columns = (n - TILE_COLS as u32 * first as u32).min((TILE_COLS * count) as u32);
			(MatMulCall { len: len as u32, m, n: columns, ..whole }, block)
		};
		// Every block's stores apart before any is run: a product goes to the host whole or
		// takes tract's driver whole.
		for first in (0..panels).step_by(per_block) {
			let (call, block) = block_of(first, per_block.min(panels - first));
			let call = MatMulCall { ops: address(block.as_ptr()), ..call };
			if !call.stores_apart(&block[..len - 1], address(call.to_words().as_ptr())) {
				return Ok(false);
			}
		}
		for first in (0..panels).step_by(per_block) {
			let count = per_block.min(panels - first);
			for i in 0..count {
				let at = unsafe { buffer.add(i * panel.size()) };
				if b.panel_bytes(first + i, Some(at))? != at as *const u8 {
					bail!("lazy panel {} not packed where it was asked", first + i);
				}
			}
			let (call, block) = block_of(first, count);
			let call = MatMulCall { ops: address(block.as_ptr()), ..call };
			// Checked above; were a block refused now, the guest traps rather than answer a
			// product it could not finish.
			if !unsafe { hand_over(&call, &block[..len]) } {
				bail!("a block of a lazily packed product overlaps its stores");
			}
		}
		Ok(true)
	}
}

/// The most bytes of a lazily packed right operand's panels packed at once.
const LAZY_BLOCK_BYTES: usize = 256 * 1024;

/// A guest address.
fn address<T>(pointer: *const T) -> u32 {
	pointer as usize as u32
}

/// Hands `call` (whose program, `DONE` last, is `program`) to the host if its stores overlap
/// nothing else it touches; `false` where they do.
unsafe fn hand_over(call: &MatMulCall, program: &[HostOp]) -> bool {
	let words = call.to_words();
	if !call.stores_apart(&program[..program.len() - 1], address(words.as_ptr())) {
		return false;
	}
	unsafe { run_mat_mul(words.as_ptr()) };
	true
}

impl MatMatMul for HostMatMul {
	fn name(&self) -> &str {
		MatMatMul::name(&self.tiles)
	}
	fn mr(&self) -> usize {
		TILE_ROWS
	}
	fn nr(&self) -> usize {
		TILE_COLS
	}
	fn arch(&self) -> Option<tract_linalg::isa::Arch> {
		MatMatMul::arch(&self.tiles)
	}
	fn emulated(&self) -> bool {
		MatMatMul::emulated(&self.tiles)
	}
	fn boost(&self) -> isize {
		MatMatMul::boost(&self.tiles)
	}
	fn preference(&self) -> isize {
		MatMatMul::preference(&self.tiles)
	}
	fn runnable_on(&self, isa: &tract_linalg::isa::IsaSet) -> bool {
		MatMatMul::runnable_on(&self.tiles, isa)
	}
	fn runnable(&self) -> bool {
		MatMatMul::runnable(&self.tiles)
	}
	fn built(&self) -> bool {
		MatMatMul::built(&self.tiles)
	}
	fn isa(&self) -> tract_linalg::isa::IsaReq {
		MatMatMul::isa(&self.tiles)
	}
	fn packings(&self) -> &[(Box<dyn MMMInputFormat>, Box<dyn MMMInputFormat>)] {
		MatMatMul::packings(&self.tiles)
	}
	fn internal_type(&self) -> DatumType {
		DatumType::F32
	}
	unsafe fn c_view(&self, m_axis: Option<usize>, n_axis: Option<usize>) -> OutputStoreSpec {
		unsafe { MatMatMul::c_view(&self.tiles, m_axis, n_axis) }
	}
	unsafe fn c_from_data_and_strides(&self, item_size: usize, row_stride: isize, col_stride: isize) -> OutputStoreSpec {
		unsafe { MatMatMul::c_from_data_and_strides(&self.tiles, item_size, row_stride, col_stride) }
	}
	fn can_fuse(&self, spec: &FusedSpec) -> bool {
		MatMatMul::can_fuse(&self.tiles, spec)
	}
	fn stores(&self) -> Cow<'_, [DatumType]> {
		MatMatMul::stores(&self.tiles)
	}
	unsafe fn allocate_scratch_space(&self) -> Box<dyn ScratchSpace> {
		Box::new(HostScratch { tiles: unsafe { self.tiles.allocate_scratch_space() }, product: Default::default() })
	}
	unsafe fn can_use_scratch_space(&self, scratch: &dyn ScratchSpace) -> bool {
		scratch.downcast_ref::<HostScratch>().is_some()
	}
	unsafe fn run_with_scratch_space(
		&self,
		m: usize,
		n: usize,
		scratch: &mut dyn ScratchSpace,
		specs: &[FusedSpec],
	) -> TractResult<()> {
		let scratch = scratch.downcast_mut::<HostScratch>().context("Wrong scratch space type")?;
		if unsafe { self.run_whole(m, n, &mut scratch.product, specs, LAZY_BLOCK_BYTES)? } {
			return Ok(());
		}
		unsafe { self.tiles.run_with_scratch_space(m, n, &mut *scratch.tiles, specs) }
	}
}

/// An eagerly packed operand that hands its panels out as tract's lazy im2col does: each
/// copied into the buffer the driver gives. What the start-up check runs lazily packed
/// products with (tract's own lazy im2col is private to it).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct LazyPanels(EagerPackedInput);

impl std::fmt::Display for LazyPanels {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		write!(f, "lazy {}", self.0)
	}
}

impl MMMInputValue for LazyPanels {
	fn format(&self) -> &dyn MMMInputFormat {
		self.0.format()
	}
	fn scratch_panel_buffer_layout(&self) -> Option<std::alloc::Layout> {
		std::alloc::Layout::from_size_align(self.0.panel_bytes, 16).ok()
	}
	fn panel_bytes(&self, i: usize, buffer: Option<*mut u8>) -> TractResult<*const u8> {
		let buffer = buffer.context("a lazy panel needs a buffer")?;
		let panel = self.0.panel_bytes(i, None)?;
		unsafe { std::ptr::copy_nonoverlapping(panel, buffer, self.0.panel_bytes) };
		Ok(buffer)
	}
	fn mn(&self) -> usize {
		self.0.mn()
	}
	fn k(&self) -> usize {
		self.0.k()
	}
	fn exotic_fact(&self) -> &dyn ExoticFact {
		self.0.exotic_fact()
	}
	fn extract_at_mn_f16(&self, mn: usize, slice: &mut [f16]) -> TractResult<()> {
		self.0.extract_at_mn_f16(mn, slice)
	}
	fn extract_at_mn_f32(&self, mn: usize, slice: &mut [f32]) -> TractResult<()> {
		self.0.extract_at_mn_f32(mn, slice)
	}
}

/// One operation of a random product, with the tensors it names.
enum Step {
	Scalar(Tensor, BinOp),
	PerRow(Tensor, BinOp),
	PerCol(Tensor, BinOp),
	LeakyRelu(Tensor),
	RowColProducts(Tensor, Tensor),
	/// A unicast operand or an output, `m × n` or transposed.
	AddUnicast(Tensor, bool),
	Store(Tensor, bool),
	MatMul(Box<dyn MMMInputValue>, Box<dyn MMMInputValue>),
	ShiftLeft(usize),
}

fn random_tensor(rng: &mut Lcg, shape: &[usize]) -> Tensor {
	let values: Vec<f32> = (0..shape.iter().product()).map(|_| rng.value()).collect();
	tract_ndarray::ArrayD::from_shape_vec(shape, values).expect("shape and values agree").into()
}

/// A random product of `m × n` with a shared dimension of `k`, ending with a store.
fn random_steps(rng: &mut Lcg, m: usize, n: usize, k: usize) -> TractResult<Vec<Step>> {
	let ops = [BinOp::Min, BinOp::Max, BinOp::Add, BinOp::Mul, BinOp::Sub, BinOp::SubF];
	let (pack_a, pack_b) = (wasm_f32_8x8.regular_pack_a(), wasm_f32_8x8.regular_pack_b());
	let mut steps = Vec::new();
	for _ in 0..rng.below(8) + 1 {
		let op = ops[rng.below(6) as usize];
		let transposed = rng.below(2) == 1;
		let output = |rng: &mut Lcg| random_tensor(rng, &if transposed { [n, m] } else { [m, n] });
		steps.push(match rng.below(10) {
			0 => Step::Scalar(random_tensor(rng, &[]), op),
			1 => Step::PerRow(random_tensor(rng, &[m]), op),
			2 => Step::PerCol(random_tensor(rng, &[n]), op),
			3 => Step::LeakyRelu(random_tensor(rng, &[])),
			4 => Step::RowColProducts(random_tensor(rng, &[m]), random_tensor(rng, &[n])),
			5 => Step::AddUnicast(output(rng), transposed),
			6 => Step::Store(output(rng), transposed),
			7 => Step::ShiftLeft(rng.below(4) as usize),
			_ => Step::MatMul(
				pack_a.prepare_one(&random_tensor(rng, &[m, k]), 1, 0)?,
				pack_b.prepare_one(&random_tensor(rng, &[k, n]), 0, 1)?,
			),
		});
	}
	steps.push(Step::Store(random_tensor(rng, &[m, n]), false));
	// A product's only matrix product takes its right operand lazily packed half the time.
	let products = steps.iter().filter(|s| matches!(s, Step::MatMul(..))).count();
	if products == 1 && rng.below(2) == 1 {
		for step in &mut steps {
			if let Step::MatMul(_, b) = step {
				let eager = b.clone().downcast::<EagerPackedInput>().map_err(|_| format_err!("eager panels"))?;
				*b = Box::new(LazyPanels(*eager));
			}
		}
	}
	Ok(steps)
}

/// The fused specs of `steps`, over their tensors.
unsafe fn specs<'t>(steps: &'t [Step], kernel: &dyn MatMatMul) -> Vec<FusedSpec<'t>> {
	let store = |t: &Tensor, transposed: bool| unsafe {
		let (m_axis, n_axis) = if transposed { (1, 0) } else { (0, 1) };
		kernel.c_view(Some(m_axis), Some(n_axis)).wrap(&t.view())
	};
	steps
		.iter()
		.map(|step| match step {
			Step::Scalar(t, op) => FusedSpec::BinScalar(t, *op),
			Step::PerRow(t, op) => FusedSpec::BinPerRow(t.view(), *op),
			Step::PerCol(t, op) => FusedSpec::BinPerCol(t.view(), *op),
			Step::LeakyRelu(t) => FusedSpec::LeakyRelu(t),
			Step::RowColProducts(rows, cols) => FusedSpec::AddRowColProducts(rows, cols),
			Step::AddUnicast(t, transposed) => FusedSpec::AddUnicast(store(t, *transposed)),
			Step::Store(t, transposed) => FusedSpec::Store(store(t, *transposed)),
			Step::ShiftLeft(shift) => FusedSpec::ShiftLeft(*shift),
			Step::MatMul(a, b) =>
				FusedSpec::AddMatMul { a: AsInputValue::Borrowed(&**a), b: AsInputValue::Borrowed(&**b), packing: 0 },
		})
		.collect()
}

/// The bits of every tensor `steps` write.
fn outputs(steps: &[Step]) -> Vec<u32> {
	steps
		.iter()
		.filter_map(|step| match step {
			Step::Store(t, _) | Step::AddUnicast(t, _) => Some(t),
			_ => None,
		})
		.flat_map(|t| t.try_as_plain_ram().expect("plain").as_slice::<f32>().expect("f32").to_vec())
		.map(f32::to_bits)
		.collect()
}

/// Runs `products` random products (sizes 1–40, shared dimension 1–24, borders included)
/// through tract's `wasm_f32_8x8` and through the host whole, and answers how many gave a
/// different bit or did not go to the host whole.
pub fn check(rng: &mut Lcg, products: u32) -> u32 {
	let host = HostMatMul::new(crate::host_kernel::make_kernel());
	let mut differing = 0;
	for _ in 0..products {
		let (m, n, k) = (rng.below(40) as usize + 1, rng.below(40) as usize + 1, rng.below(24) as usize + 1);
		let outcome = (|| -> TractResult<bool> {
			let mut steps = random_steps(rng, m, n, k)?;
			let before: Vec<Tensor> = steps
				.iter()
				.filter_map(|s| match s {
					Step::Store(t, _) | Step::AddUnicast(t, _) => Some(t.clone()),
					_ => None,
				})
				.collect();
			unsafe { MatMatMul::run(&*wasm_f32_8x8, m, n, &specs(&steps, &*wasm_f32_8x8))? };
			let by_tract = outputs(&steps);
			let mut originals = before.into_iter();
			for step in &mut steps {
				if let Step::Store(t, _) | Step::AddUnicast(t, _) = step {
					*t = originals.next().expect("one original per output");
				}
			}
			let block = [LAZY_BLOCK_BYTES, 1, 1024][rng.below(3) as usize];
			let whole = unsafe { host.run_whole(m, n, &mut ProductScratch::default(), &specs(&steps, &host), block)? };
			Ok(whole && outputs(&steps) == by_tract)
		})();
		if !matches!(outcome, Ok(true)) {
			differing += 1;
		}
	}
	differing
}
