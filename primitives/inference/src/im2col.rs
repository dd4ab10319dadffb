//! im2col of an f32 `C × H × W` tensor into the packed panels of a matrix product, on the node:
//! the layout of the call through which the guest hands one batch and group of a convolution's
//! im2col to the node (`veriml.run_im2col`), what makes it well formed, and its fuel. The node
//! computes it (`veriml_engine`'s `im2col`).
//!
//! The bits are those of tract's `Im2col` in the guest (its 2-D patchers, valid and padded, of a
//! channels-first input with tract's `PackedFormat` of `r` columns a panel): the matrix has a
//! row for each channel and tap of the window, `kk = (c · kernel_height + ky) · kernel_width +
//! kx`, and a column for each output pixel, `col = oy · out_width + ox`; element `(kk, col)` is
//! the input under that tap, or `+0` where the tap lies in the padding, and it is stored at
//! `(col / r) · panel_len + kk · r + col mod r`. Nothing else is written (tract's own code
//! zeroes the last panel's unused columns before). Values are copied, never computed: every
//! bit of the input, NaN payloads included, is kept. The guest checks it at the node's
//! start-up with random geometries against tract's code in wasm (`veriml_check_host_kernel`),
//! as it does the pools and the depthwise convolution.

use crate::window::Window;

/// The wasm import through which the guest hands an im2col to the host:
/// `run_im2col(call: u32)`, the address of an [`Im2colCall`].
pub const IM2COL_IMPORT: &str = "run_im2col";

/// An im2col in guest memory: seventeen little-endian `u32`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Im2colCall {
	/// Address of the input, `planes · height · width` f32s: the group's channels.
	pub x: u32,
	/// Address of the packed output, `panels · panel_len` f32s.
	pub y: u32,
	/// Columns of the matrix a panel holds (tract's `r`): 4, 8 (the guest's kernel's) or 16.
	pub panel_width: u32,
	/// f32s from a panel to the next, at least `k · panel_width`.
	pub panel_len: u32,
	/// The group's channels (`planes`) and the convolution's window.
	pub window: Window,
}

/// Bytes of an [`Im2colCall`] in guest memory.
pub const IM2COL_CALL_BYTES: usize = 68;

/// Fuel charged for a call, whatever its size: the host call and reading the call.
pub const IM2COL_FUEL_PER_CALL: u64 = 64;
/// Fuel per element of the matrix: a load and a store, 0.1–0.3 ns along contiguous rows and up
/// to a cache line's miss on a strided or far read; charged as 1.6 ns at the runtime's 400 ps a
/// unit.
pub const IM2COL_FUEL_PER_ELEMENT: u64 = 4;
/// Fuel per row of the matrix for each output row: the span of output columns the tap reaches
/// in that row, paid even where the row has few or no elements.
pub const IM2COL_FUEL_PER_ROW: u64 = 8;
/// Fuel per column of the matrix, once a call: the host gathers a row of the matrix before it
/// lays it into the panels (4 bytes a column), charged as the guest's memory growth is.
pub const IM2COL_FUEL_PER_COLUMN: u64 = 8;
/// Fuel per element of the input and tap of the window: however sparsely a tap's pass reads the
/// input, the whole input is paid for on each pass, so a read that misses the cache is paid by
/// the elements it skips, however many taps read the same lines.
pub const IM2COL_FUEL_PER_INPUT_TAP: u64 = 1;

impl Im2colCall {
	/// The call's seventeen words, in memory order.
	pub fn to_words(&self) -> [u32; 17] {
		let mut words = [0; 17];
		words[..4].copy_from_slice(&[self.x, self.y, self.panel_width, self.panel_len]);
		words[4..].copy_from_slice(&self.window.to_words());
		words
	}

	/// The call read from its seventeen words.
	pub fn from_words(w: [u32; 17]) -> Self {
		Self {
			x: w[0],
			y: w[1],
			panel_width: w[2],
			panel_len: w[3],
			window: Window::from_words(w[4..].try_into().expect("thirteen words")),
		}
	}

	/// Rows of the matrix: the planes times the window's taps; `None` if that overflows.
	pub fn k(&self) -> Option<u64> {
		u64::from(self.window.planes).checked_mul(self.window.taps())
	}

	/// Columns of the matrix: the output's pixels.
	pub fn n(&self) -> u64 {
		u64::from(self.window.out_height) * u64::from(self.window.out_width)
	}

	/// f32s of the packed output: a panel for each `panel_width` columns (the last may be
	/// partial), `panel_len` each; `None` if that overflows or there is no panel width.
	pub fn output_elements(&self) -> Option<u64> {
		let panels = self.n().checked_add(u64::from(self.panel_width).checked_sub(1)?)? / u64::from(self.panel_width);
		panels.checked_mul(u64::from(self.panel_len))
	}

	/// Whether the node's `im2col_f32` can run it: its window [well formed](Window::is_well_formed),
	/// a panel width of 4, 8 or 16 (each panel's columns one move: what the fuel per element
	/// pays), and panels that hold their `k` rows.
	pub fn is_well_formed(&self) -> bool {
		self.window.is_well_formed()
			&& matches!(self.panel_width, 4 | 8 | 16)
			&& self
				.k()
				.and_then(|k| k.checked_mul(u64::from(self.panel_width)))
				.is_some_and(|rows| rows <= u64::from(self.panel_len))
	}

	/// The fuel of running it; `None` if that overflows.
	pub fn fuel(&self) -> Option<u64> {
		let k = self.k()?;
		k.checked_mul(self.n())?
			.checked_mul(IM2COL_FUEL_PER_ELEMENT)?
			.checked_add(k.checked_mul(u64::from(self.window.out_height))?.checked_mul(IM2COL_FUEL_PER_ROW)?)?
			.checked_add(self.n().checked_mul(IM2COL_FUEL_PER_COLUMN)?)?
			.checked_add(
				self.window.input_elements()?.checked_mul(self.window.taps())?.checked_mul(IM2COL_FUEL_PER_INPUT_TAP)?,
			)?
			.checked_add(IM2COL_FUEL_PER_CALL)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn an_im2col_pays_for_its_matrix_and_its_words_round_trip() {
		let window = Window {
			planes: 2,
			height: 3,
			width: 3,
			out_height: 2,
			out_width: 2,
			kernel_height: 2,
			kernel_width: 2,
			stride_height: 1,
			stride_width: 1,
			dilation_height: 1,
			dilation_width: 1,
			..Default::default()
		};
		// k = 8 rows, n = 4 columns, panels of 4 columns: one panel of at least 32 f32s.
		let call = Im2colCall { x: 1, y: 2, panel_width: 4, panel_len: 32, window };
		assert!(call.is_well_formed());
		assert_eq!((call.k(), call.n(), call.output_elements()), (Some(8), 4, Some(32)));
		assert_eq!(
			call.fuel(),
			Some(
				IM2COL_FUEL_PER_CALL
					+ 32 * IM2COL_FUEL_PER_ELEMENT
					+ 8 * 2 * IM2COL_FUEL_PER_ROW
					+ 4 * IM2COL_FUEL_PER_COLUMN
					+ 18 * 4 * IM2COL_FUEL_PER_INPUT_TAP
			)
		);
		// Panels shorter than their rows, no panel width or one of 3, a malformed window: refused.
		assert!(!Im2colCall { panel_len: 31, ..call }.is_well_formed());
		assert!(!Im2colCall { panel_width: 0, ..call }.is_well_formed());
		assert!(!Im2colCall { panel_width: 3, panel_len: 24, ..call }.is_well_formed());
		assert!(Im2colCall { panel_width: 16, panel_len: 128, ..call }.is_well_formed());
		assert_eq!(Im2colCall { panel_width: 0, ..call }.output_elements(), None);
		assert!(!Im2colCall { window: Window { stride_width: 0, ..window }, ..call }.is_well_formed());
		// Sizes past u64 are refused, never wrapped.
		let huge = Window { planes: u32::MAX, kernel_height: u32::MAX, kernel_width: u32::MAX, ..window };
		assert!(!Im2colCall { window: huge, panel_len: u32::MAX, ..call }.is_well_formed());
		let wide = Window { planes: u32::MAX, out_height: u32::MAX, out_width: u32::MAX, ..window };
		assert_eq!(Im2colCall { window: wide, ..call }.fuel(), None);
		assert_eq!(Im2colCall::from_words(call.to_words()), call);
	}
}
