//! The host's depthwise convolution (`veriml.run_depthwise`, see
//! `veriml_inference_primitives::depthwise`): the bits of tract's `DepthWise` in the guest, which
//! the guest checks against it at start-up.

use crate::max_pool::column_spans;
use veriml_inference_primitives::{
	depthwise::{DepthwiseCall, DEPTHWISE_LANES},
	host_kernel::canonical,
};

/// Planes the host convolves at once, one lane each.
const LANES: usize = DEPTHWISE_LANES as usize;

/// The taps `t` of a kernel axis of `kernel` taps that land inside an input axis of `size`
/// elements for output coordinate `o`: `0 ≤ o·stride + t·dilation − pad < size`, a range (empty:
/// at its start). Both its ends only ever fall as `o` grows.
fn landing(o: usize, stride: usize, dilation: usize, pad: u32, kernel: usize, size: usize) -> std::ops::Range<usize> {
	let (start, pad) = ((o * stride) as i64, i64::from(pad));
	let (dilation, size) = (dilation as i64, size as i64);
	// The first tap at or past input element 0, and the first past the last element.
	let lo = if start >= pad { 0 } else { (pad - start + dilation - 1) / dilation };
	let hi = if start - pad > size - 1 { 0 } else { (size - 1 + pad - start) / dilation + 1 };
	let (lo, hi) = (lo.min(kernel as i64) as usize, hi.min(kernel as i64) as usize);
	lo..hi.max(lo)
}

/// `o = o + k · v` along a row, `v` every `stride`-th tap: an IEEE multiply then an IEEE add,
/// never fused (Rust does not contract them), so each element gets wasm's bits but for a NaN's.
/// (The max pool's `fold_max_strided` walks a row the same way with a max; a generic walk for
/// both was timed on the pool and left apart: A/B within this machine's noise, not shown equal.)
fn add_products(row: &mut [f32], taps: &[f32], stride: usize, k: f32) {
	let n = row.len().min(taps.len().div_ceil(stride));
	if n == 0 {
		return;
	}
	if stride == 1 {
		for (o, &v) in row[..n].iter_mut().zip(taps) {
			*o += k * v;
		}
		return;
	}
	// Sliced to the last tap read, so that the loop's indexing needs no bounds check.
	let (row, taps) = (&mut row[..n], &taps[..(n - 1) * stride + 1]);
	for (i, o) in row.iter_mut().enumerate() {
		*o += k * taps[i * stride];
	}
}

/// Writes the depthwise convolution of `x` by `kernel` and `bias` into `y` with the call's
/// geometry. `x`, `kernel`, `bias` and `y` must hold the call's elements and the call must be
/// [well formed](DepthwiseCall::is_well_formed): the host checks both before it calls this.
///
/// Each output element is its channel's bias plus the products of its window's taps inside the
/// input, added one at a time, kernel rows outer and columns inner, as tract adds them. A NaN
/// result is made the canonical NaN once at the end (a NaN stays NaN through every later add:
/// the same element is NaN as in wasm, which canonicalises each result); an element no tap
/// reaches keeps its bias's bits, as tract stores it. Planes go [`LANES`] at a time, each a
/// lane of the same element (the same taps land for all), element by element and tap by tap
/// ([`DepthwiseCall::uses_lanes`]). A call of fewer
/// planes or channels goes plane by plane, row by row and tap by tap over the columns the tap
/// reaches.
pub fn depthwise_f32(x: &[f32], kernel: &[f32], bias: &[f32], y: &mut [f32], call: &DepthwiseCall) {
	let (h, w) = (call.window.height as usize, call.window.width as usize);
	let (oh, ow) = (call.window.out_height as usize, call.window.out_width as usize);
	let (kh, kw) = (call.window.kernel_height as usize, call.window.kernel_width as usize);
	let (sh, sw) = (call.window.stride_height as usize, call.window.stride_width as usize);
	let (dh, dw) = (call.window.dilation_height as usize, call.window.dilation_width as usize);
	let (pt, pl) = (call.window.pad_top as usize, call.window.pad_left as usize);
	let (planes, channels) = (call.window.planes as usize, call.channels as usize);
	if planes == 0 || oh == 0 || ow == 0 {
		return;
	}
	let taps = kh * kw;
	if taps == 0 || h == 0 || w == 0 {
		// No tap lands anywhere: every element keeps its bias's bits (and no span of the kernel's
		// columns is held, however many columns a kernel of no rows has).
		for (p, out_plane) in y.chunks_exact_mut(oh * ow).take(planes).enumerate() {
			out_plane.fill(bias[p % channels]);
		}
		return;
	}
	// The kernel rows that land for output row `oy`.
	let row_taps = |oy: usize| landing(oy, sh, dh, call.window.pad_top, kh, h);
	if !call.uses_lanes() {
		// For each column of the kernel, the output columns where it lands; and the output
		// columns some column of the kernel reaches.
		let column_spans = column_spans(&call.window);
		let mut reached = vec![false; ow];
		for &(lo, hi, _) in column_spans.iter().flatten() {
			reached[lo..hi].fill(true);
		}
		for (p, out_plane) in y.chunks_exact_mut(oh * ow).take(planes).enumerate() {
			let c = p % channels;
			let (k, b) = (&kernel[c * taps..][..taps], bias[c]);
			let plane = &x[p * h * w..][..h * w];
			for (oy, out) in out_plane.chunks_exact_mut(ow).enumerate() {
				out.fill(b);
				let rows = row_taps(oy);
				for ky in rows.clone() {
					let input_row = &plane[(oy * sh + ky * dh - pt) * w..][..w];
					for (kx, span) in column_spans.iter().enumerate() {
						if let Some((lo, hi, first)) = *span {
							add_products(&mut out[lo..hi], &input_row[first..], sw, k[ky * kw + kx]);
						}
					}
				}
				if !rows.is_empty() {
					for (o, &reached) in out.iter_mut().zip(&reached) {
						if reached {
							*o = canonical(*o);
						}
					}
				}
			}
		}
		return;
	}
	// The kernel columns that land for each output column, and the kernel of a block of planes
	// interleaved (tap `t` of lane `l` at `kt[t][l]`): what `DepthwiseCall::scratch_bytes` pays.
	let column_taps: Vec<_> = (0..ow).map(|ox| landing(ox, sw, dw, call.window.pad_left, kw, w)).collect();
	let mut kt = vec![[0f32; LANES]; taps];
	for block in (0..planes).step_by(LANES) {
		let n = LANES.min(planes - block);
		let mut b = [0f32; LANES];
		for l in 0..n {
			let c = (block + l) % channels;
			b[l] = bias[c];
			for (t, k) in kernel[c * taps..][..taps].iter().enumerate() {
				kt[t][l] = *k;
			}
		}
		// Each lane's plane; the lanes past the block's last plane read that plane again (their
		// sums are never stored).
		let xs: [&[f32]; LANES] = std::array::from_fn(|l| &x[(block + l.min(n - 1)) * h * w..][..h * w]);
		let block_y = &mut y[block * oh * ow..][..n * oh * ow];
		for oy in 0..oh {
			let rows = row_taps(oy);
			for (ox, columns) in column_taps.iter().enumerate() {
				let mut acc = b;
				for ky in rows.clone() {
					let row = (oy * sh + ky * dh - pt) * w;
					for kx in columns.clone() {
						let (i, k) = (row + ox * sw + kx * dw - pl, &kt[ky * kw + kx]);
						for l in 0..LANES {
							acc[l] += k[l] * xs[l][i];
						}
					}
				}
				if !rows.is_empty() && !columns.is_empty() {
					acc = acc.map(canonical);
				}
				for (l, v) in acc[..n].iter().enumerate() {
					block_y[l * oh * ow + oy * ow + ox] = *v;
				}
			}
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Each element's window added one tap at a time, wasm's NaN rules: the definition the walk
	/// must equal.
	fn by_element(x: &[f32], kernel: &[f32], bias: &[f32], call: &DepthwiseCall) -> Vec<f32> {
		let (taps, plane) = (call.window.taps() as usize, (call.window.out_height * call.window.out_width) as usize);
		crate::max_pool::landing_taps(&call.window)
			.iter()
			.enumerate()
			.map(|(element, landing)| {
				let channel = element / plane % call.channels as usize;
				landing.iter().fold(bias[channel], |sum, &(tap, i)| {
					canonical(sum + canonical(kernel[channel * taps + tap] * x[i]))
				})
			})
			.collect()
	}

	#[test]
	fn a_kernel_of_no_rows_leaves_every_element_its_bias_and_holds_nothing_per_column() {
		// 2^30 columns of no rows: no tap, an empty kernel, and a span per column would be 24 GiB.
		let window = veriml_inference_primitives::window::Window {
			planes: 9,
			height: 2,
			width: 2,
			out_height: 1,
			out_width: 2,
			kernel_height: 0,
			kernel_width: 1 << 30,
			stride_height: 1,
			stride_width: 1,
			dilation_height: 1,
			dilation_width: 1,
			pad_top: 0,
			pad_left: 0,
		};
		let bias = [f32::from_bits(0x7fc0_1234), -0.0, 1.5];
		for channels in [1, 3] {
			let call = DepthwiseCall { channels, window, ..Default::default() };
			let mut y = vec![0.0; 18];
			depthwise_f32(&[1.0; 36], &[], &bias[..channels as usize], &mut y, &call);
			let expected: Vec<u32> = (0..18).map(|e| bias[e / 2 % channels as usize].to_bits()).collect();
			assert_eq!(y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), expected);
		}
	}

	#[test]
	fn the_row_walk_adds_each_windows_taps_as_one_element_at_a_time_does() {
		let mut next = crate::max_pool::draws(11);
		let specials = [
			0.0,
			-0.0,
			f32::INFINITY,
			f32::NEG_INFINITY,
			f32::from_bits(0x7fc0_1234),
			f32::from_bits(0xffc0_0001),
			f32::from_bits(1),
			f32::MAX,
			-1.5,
			2.5,
			0.1,
			1.0 / 3.0,
		];
		for _ in 0..3000 {
			let call = DepthwiseCall {
				channels: 1 + next(12),
				window: crate::max_pool::random_window(&mut next),
				..Default::default()
			};
			let mut values = |n: u64| -> Vec<f32> {
				(0..n)
					.map(|_| match next(4) {
						0 => specials[next(specials.len() as u32) as usize],
						_ => next(1000) as f32 / 7.0 - 70.0,
					})
					.collect()
			};
			let (x, kernel, bias) = (
				values(call.window.input_elements().unwrap()),
				values(call.kernel_elements().unwrap()),
				values(u64::from(call.channels)),
			);
			let mut y = vec![0.0; call.window.output_elements().unwrap() as usize];
			depthwise_f32(&x, &kernel, &bias, &mut y, &call);
			let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
			assert_eq!(bits(&y), bits(&by_element(&x, &kernel, &bias, &call)), "{call:?}");
		}
	}
}
