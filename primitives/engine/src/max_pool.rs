//! The host's max pool (`veriml.run_max_pool`, see `veriml_inference_primitives::max_pool`): the
//! bits of tract's `OptMaxPool` in the guest, which the guest checks against it at start-up.

use veriml_inference_primitives::{max_pool::MaxPoolCall, window::Window};

/// `m = if m < v { v } else { m }` along a row: tract's fold (it compiles to a vector max).
fn fold_max(row: &mut [f32], taps: &[f32]) {
	for (m, &v) in row.iter_mut().zip(taps) {
		*m = if *m < v { v } else { *m };
	}
}

/// [`fold_max`] of every `stride`-th tap.
fn fold_max_strided(row: &mut [f32], taps: &[f32], stride: usize) {
	if stride == 1 {
		return fold_max(row, taps);
	}
	let n = row.len().min(taps.len().div_ceil(stride));
	if n == 0 {
		return;
	}
	// Sliced to the last tap read, so that the loop's indexing needs no bounds check.
	let (row, taps) = (&mut row[..n], &taps[..(n - 1) * stride + 1]);
	for (i, m) in row.iter_mut().enumerate() {
		let v = taps[i * stride];
		*m = if *m < v { v } else { *m };
	}
}

/// For column `kx` of `window`'s kernel, the output columns `lo..hi` where it lands inside the
/// input and the input column of the first (`None` where it never lands): the host's pools,
/// depthwise convolutions and im2cols walk a row by these spans.
pub(crate) fn column_span(window: &Window, kx: usize) -> Option<(usize, usize, usize)> {
	let (w, ow) = (window.width as usize, window.out_width as usize);
	let (sw, dw) = (window.stride_width as usize, window.dilation_width as usize);
	let offset = (kx * dw) as i64 - i64::from(window.pad_left);
	let last = w as i64 - 1 - offset;
	if last < 0 {
		return None;
	}
	let lo = if offset >= 0 { 0 } else { (-offset as usize).div_ceil(sw) };
	let hi = (last as usize / sw + 1).min(ow);
	(lo < hi).then(|| (lo, hi, ((lo * sw) as i64 + offset) as usize))
}

/// [`column_span`] of each column of `window`'s kernel.
pub(crate) fn column_spans(window: &Window) -> Vec<Option<(usize, usize, usize)>> {
	(0..window.kernel_width as usize).map(|kx| column_span(window, kx)).collect()
}

/// Writes the max pool of `x` into `y` with the call's geometry. `x` and `y` must hold the
/// call's input and output elements and the call must be [well formed](MaxPoolCall::is_well_formed):
/// the host checks both before it calls this.
///
/// The fold takes an element's taps rows outer, columns inner, as tract's walk does. It is
/// computed in two passes where the window's rows are undilated and no further apart than it is
/// tall (every pool of the benchmark CNNs): each input row's maximum over the window's columns,
/// then each output row's over those rows' maxima. That is the same fold: on values that are
/// never NaN (a fold from `f32::MIN` never takes a NaN), keeping the first of equal values, the
/// fold of the rows' folds takes the first tap, in rows-then-columns order, of the window's
/// maximum, as the single fold does. Other pools fold each output row's taps directly, in that
/// order.
pub fn max_pool_f32(x: &[f32], y: &mut [f32], call: &MaxPoolCall) {
	let (h, w) = (call.window.height as usize, call.window.width as usize);
	let (oh, ow) = (call.window.out_height as usize, call.window.out_width as usize);
	let (kh, kw) = (call.window.kernel_height as usize, call.window.kernel_width as usize);
	let (sh, sw) = (call.window.stride_height as usize, call.window.stride_width as usize);
	let dh = call.window.dilation_height as usize;
	let pt = i64::from(call.window.pad_top);
	let planes = call.window.planes as usize;
	y[..planes * oh * ow].fill(f32::MIN);
	if planes == 0 || h == 0 || w == 0 || oh == 0 || ow == 0 || kh == 0 || kw == 0 {
		return;
	}
	// For each column of the window: the output columns `lo..hi` where it lies inside the
	// input, and the input column of the first. (At most one a column of the window, which the
	// call's fuel pays for as memory; the two passes' maxima are at most twice the tensors.)
	let column_spans: Vec<(usize, usize, usize)> = column_spans(&call.window).into_iter().flatten().collect();
	// The maximum over the window's columns of input row `row`, for each output column.
	let row_max = |row: &[f32], out: &mut [f32]| {
		out.fill(f32::MIN);
		for &(lo, hi, start) in &column_spans {
			fold_max_strided(&mut out[lo..hi], &row[start..], sw);
		}
	};
	// The input rows the windows reach: `0..last` (the first window starts at row `-pad_top`,
	// at or above the input's first row).
	let last = (((oh - 1) * sh + (kh - 1) * dh) as i64 - pt + 1).clamp(0, h as i64) as usize;
	let two_passes = dh == 1 && sh <= kh && last > 0 && last * ow <= 2 * (h * w + oh * ow);
	let mut maxima = vec![f32::MIN; if two_passes { last * ow } else { 0 }];
	for (plane, out_plane) in x.chunks_exact(h * w).zip(y.chunks_exact_mut(oh * ow)).take(planes) {
		if two_passes {
			for (iy, out) in maxima.chunks_exact_mut(ow).enumerate() {
				row_max(&plane[iy * w..][..w], out);
			}
			for ky in 0..kh {
				// The output rows whose window's row `ky` lies inside the input.
				let reaches = |oy: usize| (0..last as i64).contains(&((oy * sh + ky) as i64 - pt));
				let Some(lo) = (0..oh).find(|&oy| reaches(oy)) else { continue };
				let hi = (lo..oh).take_while(|&oy| reaches(oy)).last().map_or(lo, |oy| oy + 1);
				let row_of = |oy: usize| oy * sh + ky - pt as usize;
				if sh == 1 {
					// Consecutive output rows read consecutive rows of maxima: one fold.
					let rows = hi - lo;
					fold_max(&mut out_plane[lo * ow..hi * ow], &maxima[row_of(lo) * ow..][..rows * ow]);
				} else {
					for oy in lo..hi {
						fold_max(&mut out_plane[oy * ow..][..ow], &maxima[row_of(oy) * ow..][..ow]);
					}
				}
			}
		} else {
			for (oy, out) in out_plane.chunks_exact_mut(ow).enumerate() {
				for ky in 0..kh {
					let iy = (oy * sh + ky * dh) as i64 - pt;
					if iy < 0 || iy >= h as i64 {
						continue;
					}
					let input_row = &plane[iy as usize * w..][..w];
					for &(lo, hi, start) in &column_spans {
						fold_max_strided(&mut out[lo..hi], &input_row[start..], sw);
					}
				}
			}
		}
	}
}

/// Draws below a bound from `seed` (a linear congruential generator): `draws(seed)(n)` is below
/// `n`. The host's walks are tested on windows and values drawn so.
#[cfg(test)]
pub(crate) fn draws(mut seed: u64) -> impl FnMut(u32) -> u32 {
	move |n| {
		seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
		((seed >> 33) as u32) % n
	}
}

/// A random window of up to 20 planes of up to 8 × 40, outputs of up to 6 × 30, kernels of 1–4
/// a side, strides of 1–3, dilations of 1–2, paddings of 0–4, from the draws `next(n)` (each
/// below `n`): the host's pool and depthwise walks are tested on these.
#[cfg(test)]
pub(crate) fn random_window(next: &mut impl FnMut(u32) -> u32) -> veriml_inference_primitives::window::Window {
	veriml_inference_primitives::window::Window {
		planes: 1 + next(20),
		height: next(8),
		width: next(40),
		out_height: 1 + next(6),
		out_width: 1 + next(30),
		kernel_height: 1 + next(4),
		kernel_width: 1 + next(4),
		stride_height: 1 + next(3),
		stride_width: 1 + next(3),
		dilation_height: 1 + next(2),
		dilation_width: 1 + next(2),
		pad_top: next(5),
		pad_left: next(5),
	}
}

/// For every output element of `window` (planes, rows, columns, in order), the taps of its
/// window that land inside the input, rows outer and columns inner, as (tap, input element):
/// the definition the host's pool and depthwise walks are tested against.
#[cfg(test)]
pub(crate) fn landing_taps(window: &veriml_inference_primitives::window::Window) -> Vec<Vec<(usize, usize)>> {
	let w = window;
	let at = |o: u32, stride: u32, k: u32, dilation: u32, pad: u32| {
		i64::from(o) * i64::from(stride) + i64::from(k) * i64::from(dilation) - i64::from(pad)
	};
	let mut elements = Vec::new();
	for p in 0..w.planes as usize {
		for oy in 0..w.out_height {
			for ox in 0..w.out_width {
				let mut taps = Vec::new();
				for ky in 0..w.kernel_height {
					for kx in 0..w.kernel_width {
						let iy = at(oy, w.stride_height, ky, w.dilation_height, w.pad_top);
						let ix = at(ox, w.stride_width, kx, w.dilation_width, w.pad_left);
						if (0..i64::from(w.height)).contains(&iy) && (0..i64::from(w.width)).contains(&ix) {
							let tap = (ky * w.kernel_width + kx) as usize;
							taps.push((tap, (p * w.height as usize + iy as usize) * w.width as usize + ix as usize));
						}
					}
				}
				elements.push(taps);
			}
		}
	}
	elements
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Each element's window folded one tap at a time: the definition the row walk must equal.
	fn by_element(x: &[f32], call: &MaxPoolCall) -> Vec<f32> {
		landing_taps(&call.window)
			.iter()
			.map(|taps| taps.iter().fold(f32::MIN, |m, &(_, i)| if m < x[i] { x[i] } else { m }))
			.collect()
	}

	#[test]
	fn the_row_walk_takes_each_windows_taps_as_one_element_at_a_time_does() {
		let mut next = crate::max_pool::draws(7);
		let specials = [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MIN, -1.5, 2.5];
		for _ in 0..2000 {
			let call = MaxPoolCall { window: random_window(&mut next), ..Default::default() };
			let x: Vec<f32> = (0..call.window.input_elements().unwrap())
				.map(|_| specials[next(specials.len() as u32) as usize])
				.collect();
			let mut y = vec![0.0; call.window.output_elements().unwrap() as usize];
			max_pool_f32(&x, &mut y, &call);
			let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
			assert_eq!(bits(&y), bits(&by_element(&x, &call)), "{call:?}");
		}
	}
}
