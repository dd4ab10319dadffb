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

use crate::window::Window;

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
	/// The pool's planes and window.
	pub window: Window,
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

impl MaxPoolCall {
	/// The call's fifteen words, in memory order.
	pub fn to_words(&self) -> [u32; 15] {
		let mut words = [0; 15];
		words[..2].copy_from_slice(&[self.x, self.y]);
		words[2..].copy_from_slice(&self.window.to_words());
		words
	}

	/// The call read from its fifteen words.
	pub fn from_words(w: [u32; 15]) -> Self {
		Self { x: w[0], y: w[1], window: Window::from_words(w[2..].try_into().expect("thirteen words")) }
	}

	/// Whether the node's `max_pool_f32` can run it: its window [well formed](Window::is_well_formed).
	pub fn is_well_formed(&self) -> bool {
		self.window.is_well_formed()
	}

	/// The fuel of running it; `None` if that overflows.
	pub fn fuel(&self) -> Option<u64> {
		let window = &self.window;
		let per_element = MAX_POOL_FUEL_PER_ELEMENT.checked_add(window.taps().checked_mul(MAX_POOL_FUEL_PER_TAP)?)?;
		window
			.output_elements()?
			.checked_mul(per_element)?
			.checked_add(window.window_rows()?.checked_mul(MAX_POOL_FUEL_PER_WINDOW_ROW)?)?
			.checked_add(window.input_elements()?.checked_mul(MAX_POOL_FUEL_PER_INPUT)?)?
			.checked_add(u64::from(window.kernel_width).checked_mul(MAX_POOL_FUEL_PER_WINDOW_COLUMN)?)?
			.checked_add(MAX_POOL_FUEL_PER_CALL)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_pool_pays_for_its_window_and_its_words_round_trip() {
		let window =
			Window { stride_height: 1, stride_width: 1, dilation_height: 1, dilation_width: 1, ..Default::default() };
		let call = MaxPoolCall { window, ..Default::default() };
		assert!(call.is_well_formed());
		assert!(!MaxPoolCall { window: Window { stride_width: 0, ..window }, ..call }.is_well_formed());
		// No plane, no output, but a window of 2^32 columns: its spans are paid for.
		let empty = MaxPoolCall { window: Window { kernel_width: u32::MAX, ..window }, ..call };
		assert!(empty.fuel().unwrap() >= u64::from(u32::MAX) * MAX_POOL_FUEL_PER_WINDOW_COLUMN);
		let huge =
			Window { planes: u32::MAX, out_height: u32::MAX, out_width: u32::MAX, kernel_height: u32::MAX, ..window };
		assert_eq!(MaxPoolCall { window: huge, ..call }.fuel(), None);
		let words = MaxPoolCall { x: 1, y: 2, window: Window { planes: 3, pad_left: 15, ..window } };
		assert_eq!(MaxPoolCall::from_words(words.to_words()), words);
	}
}
