//! 2-D max pooling of f32 `N × C × H × W` tensors on the node: the layout of the call through
//! which the guest hands a pool to the node (`veriml.run_max_pool`), what makes it well formed,
//! and its fuel. The node computes it (`veriml_engine`'s `max_pool`).
//!
//! The bits are those of tract's `OptMaxPool` in the guest (its "row spans" walk, which every
//! 2-D channels-first f32 pool takes but the 2×2 undilated ones, which stay in the guest): each
//! output element starts at `f32::MIN` and folds its window's taps that lie inside the input
//! (padding is never read), rows of the window outer and columns inner, with
//! `m = if m < v { v } else { m }`. Comparisons only, no arithmetic: an output is one of its
//! taps or `f32::MIN` (a NaN is never taken; a window of `-∞` and NaN gives `f32::MIN`; of
//! equal `±0` the first), on every CPU. The guest checks it at the node's start-up with random
//! pools against tract's code in wasm (`veriml_check_host_kernel`), as it does the tile kernel
//! and the LRN.

/// The wasm import through which the guest hands a max pool to the host:
/// `run_max_pool(call: u32)`, the address of a [`MaxPoolCall`].
pub const MAX_POOL_IMPORT: &str = "run_max_pool";

/// A max pool in guest memory: fifteen little-endian `u32`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MaxPoolCall {
	/// Address of the input, `planes · height · width` f32s.
	pub x: u32,
	/// Address of the output, `planes · out_height · out_width` f32s.
	pub y: u32,
	/// Batches times channels: each plane is pooled on its own.
	pub planes: u32,
	pub height: u32,
	pub width: u32,
	pub out_height: u32,
	pub out_width: u32,
	pub kernel_height: u32,
	pub kernel_width: u32,
	/// 1 or more.
	pub stride_height: u32,
	pub stride_width: u32,
	/// 1 or more.
	pub dilation_height: u32,
	pub dilation_width: u32,
	/// Padding before the first row and before the first column.
	pub pad_top: u32,
	pub pad_left: u32,
}

/// Bytes of a [`MaxPoolCall`] in guest memory.
pub const MAX_POOL_CALL_BYTES: usize = 60;

/// Fuel charged for a call, whatever its size: the host call and reading the call.
pub const MAX_POOL_FUEL_PER_CALL: u64 = 64;
/// Fuel per output element: set to `f32::MIN`, written back to the guest.
pub const MAX_POOL_FUEL_PER_ELEMENT: u64 = 4;
/// Fuel per tap of every output element (padding included): a load and a comparison, about
/// 0.1 ns vectorised and 0.5–1 ns on a strided row; charged as 1.6 ns at the runtime's 400 ps a
/// unit.
pub const MAX_POOL_FUEL_PER_TAP: u64 = 4;
/// Fuel per row of a window for each output row, and per column of it: the bounds of the row
/// and of each column's span, paid even where an output row has few or no elements.
pub const MAX_POOL_FUEL_PER_WINDOW_ROW: u64 = 8;
/// Fuel per column of the window, once a call whatever the planes: its span, worked out and
/// held by the host (24 bytes), charged as the guest's memory growth is, 2 a byte.
pub const MAX_POOL_FUEL_PER_WINDOW_COLUMN: u64 = 48;
/// Fuel per input element: the input is read out of guest memory once.
pub const MAX_POOL_FUEL_PER_INPUT: u64 = 1;

/// The largest value of a coordinate the host computes (`(out − 1)·stride + (kernel − 1)·dilation`
/// and the paddings): far beyond any memory, so that the arithmetic below never overflows.
const MAX_COORDINATE: u64 = 1 << 40;

impl MaxPoolCall {
	/// The call's fifteen words, in memory order.
	pub fn to_words(&self) -> [u32; 15] {
		[
			self.x,
			self.y,
			self.planes,
			self.height,
			self.width,
			self.out_height,
			self.out_width,
			self.kernel_height,
			self.kernel_width,
			self.stride_height,
			self.stride_width,
			self.dilation_height,
			self.dilation_width,
			self.pad_top,
			self.pad_left,
		]
	}

	/// The call read from its fifteen words.
	pub fn from_words(w: [u32; 15]) -> Self {
		Self {
			x: w[0],
			y: w[1],
			planes: w[2],
			height: w[3],
			width: w[4],
			out_height: w[5],
			out_width: w[6],
			kernel_height: w[7],
			kernel_width: w[8],
			stride_height: w[9],
			stride_width: w[10],
			dilation_height: w[11],
			dilation_width: w[12],
			pad_top: w[13],
			pad_left: w[14],
		}
	}

	/// Elements of the input; `None` if that overflows `u64`.
	pub fn input_elements(&self) -> Option<u64> {
		u64::from(self.planes).checked_mul(u64::from(self.height))?.checked_mul(u64::from(self.width))
	}

	/// Elements of the output; `None` if that overflows `u64`.
	pub fn output_elements(&self) -> Option<u64> {
		u64::from(self.planes).checked_mul(u64::from(self.out_height))?.checked_mul(u64::from(self.out_width))
	}

	/// Whether the node's `max_pool_f32` can run it: strides and dilations of 1 or more, and
	/// every coordinate within [`MAX_COORDINATE`].
	pub fn is_well_formed(&self) -> bool {
		let reach = |out: u32, stride: u32, kernel: u32, dilation: u32| {
			(u64::from(out.saturating_sub(1)) * u64::from(stride))
				.checked_add(u64::from(kernel.saturating_sub(1)) * u64::from(dilation))
				.is_some_and(|reach| reach <= MAX_COORDINATE)
		};
		self.stride_height >= 1
			&& self.stride_width >= 1
			&& self.dilation_height >= 1
			&& self.dilation_width >= 1
			&& reach(self.out_height, self.stride_height, self.kernel_height, self.dilation_height)
			&& reach(self.out_width, self.stride_width, self.kernel_width, self.dilation_width)
			&& u64::from(self.height) + u64::from(self.pad_top) <= MAX_COORDINATE
			&& u64::from(self.width) + u64::from(self.pad_left) <= MAX_COORDINATE
	}

	/// The fuel of running it; `None` if that overflows.
	pub fn fuel(&self) -> Option<u64> {
		let planes = u64::from(self.planes);
		let window = u64::from(self.kernel_height).checked_mul(u64::from(self.kernel_width))?;
		let per_element = MAX_POOL_FUEL_PER_ELEMENT.checked_add(window.checked_mul(MAX_POOL_FUEL_PER_TAP)?)?;
		let window_rows = planes
			.checked_mul(u64::from(self.out_height))?
			.checked_mul(u64::from(self.kernel_height))?
			.checked_mul(u64::from(self.kernel_width).checked_add(1)?)?;
		self.output_elements()?
			.checked_mul(per_element)?
			.checked_add(window_rows.checked_mul(MAX_POOL_FUEL_PER_WINDOW_ROW)?)?
			.checked_add(self.input_elements()?.checked_mul(MAX_POOL_FUEL_PER_INPUT)?)?
			.checked_add(u64::from(self.kernel_width).checked_mul(MAX_POOL_FUEL_PER_WINDOW_COLUMN)?)?
			.checked_add(MAX_POOL_FUEL_PER_CALL)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn malformed_and_huge_calls_are_refused_before_any_arithmetic() {
		let call = MaxPoolCall {
			stride_height: 1,
			stride_width: 1,
			dilation_height: 1,
			dilation_width: 1,
			..Default::default()
		};
		assert!(call.is_well_formed());
		assert!(!MaxPoolCall { stride_width: 0, ..call }.is_well_formed());
		assert!(!MaxPoolCall { dilation_height: 0, ..call }.is_well_formed());
		assert!(!MaxPoolCall { out_height: u32::MAX, stride_height: u32::MAX, ..call }.is_well_formed());
		// Both terms of a reach at their largest: their sum is past u64, refused, not wrapped.
		let widest = MaxPoolCall {
			out_width: u32::MAX,
			stride_width: u32::MAX,
			kernel_width: u32::MAX,
			dilation_width: u32::MAX,
			..call
		};
		assert!(!widest.is_well_formed());
		// No plane, no output, but a window of 2^32 columns: its spans are paid for.
		let empty = MaxPoolCall { kernel_width: u32::MAX, ..call };
		assert!(empty.fuel().unwrap() >= u64::from(u32::MAX) * MAX_POOL_FUEL_PER_WINDOW_COLUMN);
		let huge = MaxPoolCall {
			planes: u32::MAX,
			out_height: u32::MAX,
			out_width: u32::MAX,
			kernel_height: u32::MAX,
			..call
		};
		assert_eq!(huge.fuel(), None);
		let words = MaxPoolCall { x: 1, y: 2, planes: 3, pad_left: 15, ..call };
		assert_eq!(MaxPoolCall::from_words(words.to_words()), words);
	}
}
