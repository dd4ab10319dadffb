//! ONNX `LRN` (local response normalisation) on f32, as the engine computes it: one function
//! that the wasm guest and the node both compile, and the layout of the call through which the
//! guest hands an `LRN` to the node (`veriml.run_lrn`).
//!
//! For each element of an `N × C × …` tensor, with `c` its channel and the window the channels
//! `[c - (size-1)/2, c + ceil((size-1)/2)]` clipped to the tensor (tract's window):
//!
//! ```text
//! square_sum = -0 + x[c_min]·x[c_min] + … + x[c_max]·x[c_max]     (in channel order)
//! y = x[c] / powf(bias + (alpha / size) · square_sum, beta)
//! ```
//!
//! Every operation is one IEEE f32 operation rounded once, in this order (never fused), and
//! `powf` is the `libm` crate's (the same source as the `powf` of the wasm target's compiler
//! builtins, which the guest used before: the same bits). Natively, an arithmetic NaN keeps a
//! payload that wasm's NaN canonicalisation would replace; [`lrn_f32`] writes every NaN as the
//! canonical NaN, so its output bits are the guest's on every CPU. The guest checks that at the
//! node's start-up with random problems (`veriml_check_host_kernel`), as it does the tile
//! kernel.

use crate::host_kernel::canonical;

/// The wasm import through which the guest hands an `LRN` to the host: `run_lrn(call: u32)`,
/// the address of an [`LrnCall`].
pub const LRN_IMPORT: &str = "run_lrn";

/// An `LRN` in guest memory: nine little-endian `u32`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct LrnCall {
	/// Address of the input, `batches · channels · inner` f32s.
	pub x: u32,
	/// Address of the output, as many f32s.
	pub y: u32,
	pub batches: u32,
	pub channels: u32,
	/// Elements per channel (the product of the axes after the channel axis).
	pub inner: u32,
	/// The window's size in channels (1 or more).
	pub size: u32,
	/// f32 bits of `alpha`, `beta` and `bias`.
	pub alpha: u32,
	pub beta: u32,
	pub bias: u32,
}

/// Bytes of an [`LrnCall`] in guest memory.
pub const LRN_CALL_BYTES: usize = 36;

/// Fuel the host charges per output element, before it runs: the `powf` and division and the
/// element's share of reading and writing, about 52 ns natively on the project's machine (AMD
/// EPYC, Inception v1's LRNs, `scripts/profile-engine.sh`). At the runtime's 400 ps a unit
/// that is charged as 128 ns, room for slower CPUs.
pub const LRN_FUEL_PER_ELEMENT: u64 = 320;

/// Fuel per channel of an element's window: a multiply and an add.
pub const LRN_FUEL_PER_TAP: u64 = 4;

impl LrnCall {
	/// The call's nine words, in memory order.
	pub fn to_words(&self) -> [u32; 9] {
		[self.x, self.y, self.batches, self.channels, self.inner, self.size, self.alpha, self.beta, self.bias]
	}

	/// The call read from its nine words.
	pub fn from_words(w: [u32; 9]) -> Self {
		Self {
			x: w[0],
			y: w[1],
			batches: w[2],
			channels: w[3],
			inner: w[4],
			size: w[5],
			alpha: w[6],
			beta: w[7],
			bias: w[8],
		}
	}

	/// Elements of the input (and of the output); `None` if that overflows `u64`.
	pub fn elements(&self) -> Option<u64> {
		u64::from(self.batches).checked_mul(u64::from(self.channels))?.checked_mul(u64::from(self.inner))
	}

	/// The fuel of running it: [`LRN_FUEL_PER_ELEMENT`] per element and [`LRN_FUEL_PER_TAP`] per
	/// channel of the widest window; `None` if that overflows.
	pub fn fuel(&self) -> Option<u64> {
		let taps = u64::from(self.size.min(self.channels));
		self.elements()?.checked_mul(LRN_FUEL_PER_ELEMENT.checked_add(taps.checked_mul(LRN_FUEL_PER_TAP)?)?)
	}
}

/// Writes the `LRN` of `x` (`batches · channels · inner` elements) into `y` with the call's
/// shape and parameters. `x` and `y` must have that many elements and `size` must be 1 or
/// more: the callers check it (the guest bails, the host traps).
///
/// The sums of squares of one output channel are accumulated a whole channel row at a time
/// (each element's sum still adds its window's channels in order, so the bits are those of the
/// expression above): memory is read in order, never with a stride of a channel per add.
pub fn lrn_f32(x: &[f32], y: &mut [f32], call: &LrnCall) {
	let (batches, channels, inner, size) =
		(call.batches as usize, call.channels as usize, call.inner as usize, call.size as usize);
	let (alpha, beta, bias) = (f32::from_bits(call.alpha), f32::from_bits(call.beta), f32::from_bits(call.bias));
	let scale = alpha / size as f32;
	let mut square_sums = alloc::vec![-0.0f32; inner];
	for n in 0..batches {
		let batch = &x[n * channels * inner..(n + 1) * channels * inner];
		let out = &mut y[n * channels * inner..(n + 1) * channels * inner];
		for c in 0..channels {
			let c_min = c.saturating_sub((size - 1) / 2);
			let c_max = (c + (size - 1).div_ceil(2)).min(channels - 1);
			square_sums.fill(-0.0);
			for channel in c_min..=c_max {
				let row = &batch[channel * inner..(channel + 1) * inner];
				for (sum, value) in square_sums.iter_mut().zip(row) {
					*sum += value * value;
				}
			}
			let (row, out) = (&batch[c * inner..(c + 1) * inner], &mut out[c * inner..(c + 1) * inner]);
			for ((y, x), sum) in out.iter_mut().zip(row).zip(&square_sums) {
				*y = canonical(x / libm::powf(bias + scale * sum, beta));
			}
		}
	}
}
