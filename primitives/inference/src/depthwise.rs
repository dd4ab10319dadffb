//! 2-D depthwise convolution of f32 `N × C × H × W` tensors on the node: the layout of the call
//! through which the guest hands a whole convolution to the node (`veriml.run_depthwise`), what
//! makes it well formed, and its fuel. The node computes it (`veriml_engine`'s `depthwise`).
//!
//! The bits are those of tract's `DepthWise` in the guest (every path of it: the vectorised
//! rows of `wasm_simd128_depthwise_w_f32`, the strided and scalar loops): each output element
//! starts at its channel's bias and adds, one after the other, the product of each kernel tap
//! that lies inside the input (padding is never read) with the input under it, rows of the
//! kernel outer and columns inner: `sum = sum + k · x`, an IEEE multiply then an IEEE add,
//! never fused. A result that is NaN is the canonical NaN, as wasm's arithmetic gives it; an
//! element whose window lies wholly in the padding is its bias, bit for bit, as tract stores
//! it. The guest checks it at the node's start-up with random convolutions against tract's
//! code in wasm (`veriml_check_host_kernel`), as it does the tile kernel, the LRN and the pools.

use crate::{metering::FUEL_PER_BYTE_GROWN, window::Window};

/// The wasm import through which the guest hands a depthwise convolution to the host:
/// `run_depthwise(call: u32)`, the address of a [`DepthwiseCall`].
pub const DEPTHWISE_IMPORT: &str = "run_depthwise";

/// A depthwise convolution in guest memory: eighteen little-endian `u32`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct DepthwiseCall {
	/// Address of the input, `planes · height · width` f32s.
	pub x: u32,
	/// Address of the kernel, `channels · kernel_height · kernel_width` f32s: channel by
	/// channel, each row-major.
	pub kernel: u32,
	/// Address of the bias, `channels` f32s.
	pub bias: u32,
	/// Address of the output, `planes · out_height · out_width` f32s.
	pub y: u32,
	/// 1 or more: plane `p` is channel `p mod channels`.
	pub channels: u32,
	/// The convolution's planes and window.
	pub window: Window,
}

/// Bytes of a [`DepthwiseCall`] in guest memory.
pub const DEPTHWISE_CALL_BYTES: usize = 72;

/// Fuel charged for a call, whatever its size: the host call and reading the call.
pub const DEPTHWISE_FUEL_PER_CALL: u64 = 64;
/// Fuel per output element: set to its bias, its NaN tested, written back to the guest.
pub const DEPTHWISE_FUEL_PER_ELEMENT: u64 = 4;
/// Fuel per tap of every output element (padding included): a load, a multiply and an add,
/// 0.3–0.5 ns over ShuffleNet's planes; up to 1.6 ns where each tap lies 64 rows and columns
/// from the last over 32 MiB of 8 planes, each lane's load a cache line of its own
/// (2026-12-05); charged as 3.2 ns at the runtime's 400 ps a unit.
pub const DEPTHWISE_FUEL_PER_TAP: u64 = 8;
/// Fuel per tap of the kernel for each output row of each plane: the span of output columns
/// the tap reaches in that row, paid even where the row has few or no elements.
pub const DEPTHWISE_FUEL_PER_ROW_TAP: u64 = 8;
/// Fuel per column of the kernel, once a call whatever the planes: its span, worked out and
/// held by the host (24 bytes), charged as the guest's memory growth is, 2 a byte.
pub const DEPTHWISE_FUEL_PER_KERNEL_COLUMN: u64 = 48;
/// Fuel per element of the input, the kernel and the bias: each is read out of guest memory.
pub const DEPTHWISE_FUEL_PER_INPUT: u64 = 1;
/// Planes the host convolves at once, one lane each, where the call has at least as many
/// planes and channels ([`DepthwiseCall::uses_lanes`]).
pub const DEPTHWISE_LANES: u64 = 8;

impl DepthwiseCall {
	/// The call's eighteen words, in memory order.
	pub fn to_words(&self) -> [u32; 18] {
		let mut words = [0; 18];
		words[..5].copy_from_slice(&[self.x, self.kernel, self.bias, self.y, self.channels]);
		words[5..].copy_from_slice(&self.window.to_words());
		words
	}

	/// The call read from its eighteen words.
	pub fn from_words(w: [u32; 18]) -> Self {
		Self {
			x: w[0],
			kernel: w[1],
			bias: w[2],
			y: w[3],
			channels: w[4],
			window: Window::from_words(w[5..].try_into().expect("thirteen words")),
		}
	}

	/// Elements of the kernel; `None` if that overflows `u64`.
	pub fn kernel_elements(&self) -> Option<u64> {
		u64::from(self.channels).checked_mul(self.window.taps())
	}

	/// Whether the host convolves [`DEPTHWISE_LANES`] planes at a time, one a lane (fewer
	/// planes or channels go plane by plane: fewer channels would make the interleaved kernel
	/// larger than the kernel).
	pub fn uses_lanes(&self) -> bool {
		u64::from(self.window.planes) >= DEPTHWISE_LANES && u64::from(self.channels) >= DEPTHWISE_LANES
	}

	/// Bytes the host holds to convolve planes in lanes, none plane by plane: the kernel of a
	/// block of [`DEPTHWISE_LANES`] channels interleaved, and the kernel columns that land for
	/// each output column (16 bytes each); `None` if that overflows `u64`.
	pub fn scratch_bytes(&self) -> Option<u64> {
		if !self.uses_lanes() {
			return Some(0);
		}
		self.window
			.taps()
			.checked_mul(4 * DEPTHWISE_LANES)?
			.checked_add(u64::from(self.window.out_width).checked_mul(16)?)
	}

	/// Whether the node's `depthwise_f32` can run it: a channel at least, and its window
	/// [well formed](Window::is_well_formed).
	pub fn is_well_formed(&self) -> bool {
		self.channels >= 1 && self.window.is_well_formed()
	}

	/// The fuel of running it; `None` if that overflows.
	pub fn fuel(&self) -> Option<u64> {
		let window = &self.window;
		let per_element = DEPTHWISE_FUEL_PER_ELEMENT.checked_add(window.taps().checked_mul(DEPTHWISE_FUEL_PER_TAP)?)?;
		let read =
			window.input_elements()?.checked_add(self.kernel_elements()?)?.checked_add(u64::from(self.channels))?;
		window
			.output_elements()?
			.checked_mul(per_element)?
			.checked_add(window.window_rows()?.checked_mul(DEPTHWISE_FUEL_PER_ROW_TAP)?)?
			.checked_add(read.checked_mul(DEPTHWISE_FUEL_PER_INPUT)?)?
			.checked_add(u64::from(window.kernel_width).checked_mul(DEPTHWISE_FUEL_PER_KERNEL_COLUMN)?)?
			.checked_add(self.scratch_bytes()?.checked_mul(FUEL_PER_BYTE_GROWN)?)?
			.checked_add(DEPTHWISE_FUEL_PER_CALL)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_convolution_pays_for_its_window_and_its_kernel_and_its_words_round_trip() {
		let window =
			Window { stride_height: 1, stride_width: 1, dilation_height: 1, dilation_width: 1, ..Default::default() };
		let call = DepthwiseCall { channels: 1, window, ..Default::default() };
		assert!(call.is_well_formed());
		assert!(!DepthwiseCall { channels: 0, ..call }.is_well_formed());
		assert!(!DepthwiseCall { window: Window { dilation_width: 0, ..window }, ..call }.is_well_formed());
		// No plane, no output, but a kernel of 2^32 columns: its spans and its reading are paid for.
		let empty = DepthwiseCall { window: Window { kernel_height: 1, kernel_width: u32::MAX, ..window }, ..call };
		assert!(empty.fuel().unwrap() >= u64::from(u32::MAX) * (DEPTHWISE_FUEL_PER_KERNEL_COLUMN + 1));
		let huge =
			Window { planes: u32::MAX, out_height: u32::MAX, out_width: u32::MAX, kernel_height: u32::MAX, ..window };
		assert_eq!(DepthwiseCall { window: huge, ..call }.fuel(), None);
		// Eight planes and channels go in lanes: the interleaved kernel is paid as memory
		// growth; seven channels go plane by plane (and read a kernel row of 4 and a bias less).
		let lanes = DepthwiseCall {
			channels: 8,
			window: Window {
				planes: 8,
				height: 4,
				width: 4,
				out_height: 2,
				out_width: 2,
				kernel_height: 2,
				kernel_width: 2,
				..window
			},
			..call
		};
		assert!(lanes.uses_lanes());
		assert_eq!(lanes.scratch_bytes(), Some(4 * 8 * 4 + 2 * 16));
		let by_plane = DepthwiseCall { channels: 7, ..lanes };
		assert_eq!(by_plane.scratch_bytes(), Some(0));
		assert_eq!(
			lanes.fuel().unwrap() - by_plane.fuel().unwrap(),
			2 * lanes.scratch_bytes().unwrap() + 5 * DEPTHWISE_FUEL_PER_INPUT
		);
		let words = DepthwiseCall {
			x: 1,
			kernel: 2,
			bias: 3,
			y: 4,
			channels: 5,
			window: Window { planes: 6, pad_left: 18, ..window },
		};
		assert_eq!(DepthwiseCall::from_words(words.to_words()), words);
	}
}
