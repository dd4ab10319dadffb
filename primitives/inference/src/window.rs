//! The geometry of a 2-D window slid over planes of f32s, `planes × height × width` in and
//! `planes × out_height × out_width` out: what the host's max pool, depthwise convolution and
//! im2col share (`max_pool`, `depthwise`, `im2col`; the im2col's output is the packed matrix of
//! the taps, not `out_height × out_width` planes), laid out in their calls as thirteen
//! little-endian `u32`s.

/// Words of a [`Window`] in guest memory.
pub const WINDOW_WORDS: usize = 13;

/// The largest value of a coordinate the host computes (`(out − 1)·stride + (kernel − 1)·dilation`
/// and the paddings): far beyond any memory, so that the arithmetic on them never overflows.
const MAX_COORDINATE: u64 = 1 << 40;

/// A window slid over planes: thirteen little-endian `u32`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Window {
	/// Batches times channels: each plane is slid over on its own.
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

impl Window {
	/// The window's thirteen words, in memory order.
	pub fn to_words(&self) -> [u32; WINDOW_WORDS] {
		[
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

	/// The window read from its thirteen words.
	pub fn from_words(w: [u32; WINDOW_WORDS]) -> Self {
		Self {
			planes: w[0],
			height: w[1],
			width: w[2],
			out_height: w[3],
			out_width: w[4],
			kernel_height: w[5],
			kernel_width: w[6],
			stride_height: w[7],
			stride_width: w[8],
			dilation_height: w[9],
			dilation_width: w[10],
			pad_top: w[11],
			pad_left: w[12],
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

	/// Taps of the window: its rows times its columns.
	pub fn taps(&self) -> u64 {
		u64::from(self.kernel_height) * u64::from(self.kernel_width)
	}

	/// The rows of the window for each output row of each plane, times its columns and one: what
	/// the host works out for each (a span of columns per column of the window, and the row's
	/// bounds); `None` if that overflows `u64`.
	pub fn window_rows(&self) -> Option<u64> {
		u64::from(self.planes)
			.checked_mul(u64::from(self.out_height))?
			.checked_mul(u64::from(self.kernel_height))?
			.checked_mul(u64::from(self.kernel_width).checked_add(1)?)
	}

	/// Whether the host can slide it: strides and dilations of 1 or more, and every coordinate
	/// within [`MAX_COORDINATE`].
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
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn malformed_and_huge_windows_are_refused_before_any_arithmetic() {
		let window =
			Window { stride_height: 1, stride_width: 1, dilation_height: 1, dilation_width: 1, ..Default::default() };
		assert!(window.is_well_formed());
		assert!(!Window { stride_width: 0, ..window }.is_well_formed());
		assert!(!Window { dilation_height: 0, ..window }.is_well_formed());
		assert!(!Window { out_height: u32::MAX, stride_height: u32::MAX, ..window }.is_well_formed());
		// Both terms of a reach at their largest: their sum is past u64, refused, not wrapped.
		let widest = Window {
			out_width: u32::MAX,
			stride_width: u32::MAX,
			kernel_width: u32::MAX,
			dilation_width: u32::MAX,
			..window
		};
		assert!(!widest.is_well_formed());
		let huge = Window {
			planes: u32::MAX,
			out_height: u32::MAX,
			kernel_height: u32::MAX,
			kernel_width: u32::MAX,
			..window
		};
		assert_eq!(huge.window_rows(), None);
		let words = Window { planes: 1, pad_left: 13, ..window };
		assert_eq!(Window::from_words(words.to_words()), words);
	}
}
