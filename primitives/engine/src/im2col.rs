//! The host's im2col (`veriml.run_im2col`, see `veriml_inference_primitives::im2col`): the bits
//! of tract's `Im2col` in the guest, which the guest checks against it at start-up.

use crate::max_pool::column_span;
use veriml_inference_primitives::im2col::Im2colCall;

/// Writes the packed im2col of `x` into `y` with the call's geometry: for each row `kk` of the
/// matrix (channel, then the window's row, then its column) and each output row, the output
/// columns whose tap lies inside the input are copied from the input row under it, the others
/// set to `+0`, each column `col` at `(col / r) · panel_len + kk · r + col mod r`. `x` and `y`
/// must hold the call's input and output elements and the call must be
/// [well formed](Im2colCall::is_well_formed): the host checks both before it calls this.
pub fn im2col_f32(x: &[f32], y: &mut [f32], call: &Im2colCall) {
	let window = &call.window;
	let (h, w) = (window.height as usize, window.width as usize);
	let (oh, ow) = (window.out_height as usize, window.out_width as usize);
	let (kh, kw) = (window.kernel_height as usize, window.kernel_width as usize);
	let (sh, sw, dh) = (window.stride_height as usize, window.stride_width as usize, window.dilation_height as usize);
	let (r, panel_len) = (call.panel_width as usize, call.panel_len as usize);
	let (planes, n) = (window.planes as usize, oh * ow);
	if planes == 0 || kh == 0 || kw == 0 || n == 0 {
		return;
	}
	// A row of the matrix is its plane itself where the window is one tap that reads every
	// pixel once, in order.
	let whole_plane =
		window.taps() == 1 && (sh, sw, oh, ow) == (1, 1, h, w) && window.pad_top == 0 && window.pad_left == 0;
	// One row of the matrix, gathered, then laid into its panels.
	let mut row = vec![0f32; if whole_plane { 0 } else { n }];
	for c in 0..planes {
		let plane = &x[c * h * w..][..h * w];
		for ky in 0..kh {
			for kx in 0..kw {
				let kk = (c * kh + ky) * kw + kx;
				// The output columns `lo..hi` where this column of the window lies inside the
				// input, and the input column of the first (none where it never does): worked
				// out again for each row of the matrix, never held for the whole window, whose
				// columns may be many more than the memory holds.
				let span = column_span(window, kx);
				if whole_plane {
					lay_into_panels(y, plane, kk, r, panel_len);
					continue;
				}
				for (oy, out) in row.chunks_exact_mut(ow).enumerate() {
					let iy = (oy * sh + ky * dh) as i64 - i64::from(window.pad_top);
					let Some((lo, hi, first)) = span.filter(|_| (0..h as i64).contains(&iy)) else {
						out.fill(0.0);
						continue;
					};
					let input_row = &plane[iy as usize * w..][..w];
					out[..lo].fill(0.0);
					if sw == 1 {
						out[lo..hi].copy_from_slice(&input_row[first..][..hi - lo]);
					} else {
						let taps = &input_row[first..][..(hi - lo - 1) * sw + 1];
						for (i, out) in out[lo..hi].iter_mut().enumerate() {
							*out = taps[i * sw];
						}
					}
					out[hi..].fill(0.0);
				}
				lay_into_panels(y, &row, kk, r, panel_len);
			}
		}
	}
}

/// Stores `row`, the matrix's row `kk` (all its columns), into its panels: `r` columns to a
/// panel, `panel_len` f32s apart, at `kk · r` in each.
fn lay_into_panels(y: &mut [f32], row: &[f32], kk: usize, r: usize, panel_len: usize) {
	// tract's kernels' panels (8 columns in the guest's) as moves of a fixed size.
	fn by<const R: usize>(y: &mut [f32], row: &[f32], kk: usize, panel_len: usize) {
		let mut panels = row.chunks_exact(R);
		for (p, panel) in (&mut panels).enumerate() {
			let at = p * panel_len + kk * R;
			y[at..at + R].copy_from_slice(panel);
		}
		let (full, tail) = (row.len() / R, panels.remainder());
		if !tail.is_empty() {
			let at = full * panel_len + kk * R;
			y[at..at + tail.len()].copy_from_slice(tail);
		}
	}
	match r {
		4 => by::<4>(y, row, kk, panel_len),
		8 => by::<8>(y, row, kk, panel_len),
		16 => by::<16>(y, row, kk, panel_len),
		_ => {
			for (p, panel) in row.chunks(r).enumerate() {
				let at = p * panel_len + kk * r;
				y[at..at + panel.len()].copy_from_slice(panel);
			}
		},
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use veriml_inference_primitives::window::Window;

	/// Each element of the matrix from its definition: the input under the tap or `+0`.
	fn by_element(x: &[f32], call: &Im2colCall) -> Vec<Option<u32>> {
		let w = &call.window;
		let (r, panel_len) = (call.panel_width as usize, call.panel_len as usize);
		let mut y = vec![None; call.output_elements().unwrap() as usize];
		let at = |o: u32, stride: u32, k: u32, dilation: u32, pad: u32| {
			i64::from(o) * i64::from(stride) + i64::from(k) * i64::from(dilation) - i64::from(pad)
		};
		for c in 0..w.planes {
			for ky in 0..w.kernel_height {
				for kx in 0..w.kernel_width {
					let kk = ((c * w.kernel_height + ky) * w.kernel_width + kx) as usize;
					for oy in 0..w.out_height {
						for ox in 0..w.out_width {
							let col = (oy * w.out_width + ox) as usize;
							let (iy, ix) = (
								at(oy, w.stride_height, ky, w.dilation_height, w.pad_top),
								at(ox, w.stride_width, kx, w.dilation_width, w.pad_left),
							);
							let inside =
								(0..i64::from(w.height)).contains(&iy) && (0..i64::from(w.width)).contains(&ix);
							let value = if inside {
								x[((c * w.height) as usize + iy as usize) * w.width as usize + ix as usize].to_bits()
							} else {
								0
							};
							y[(col / r) * panel_len + kk * r + col % r] = Some(value);
						}
					}
				}
			}
		}
		y
	}

	#[test]
	fn each_element_is_the_input_under_its_tap_or_zero_in_its_panel_and_nothing_else_is_written() {
		let mut next = crate::max_pool::draws(5);
		for draw in 0..2000 {
			let mut window = crate::max_pool::random_window(&mut next);
			if draw % 4 == 0 {
				// A window of one tap that reads each pixel once: the plane is the matrix's row.
				(window.height, window.width) = (1 + next(7), 1 + next(40));
				window = Window {
					out_height: window.height,
					out_width: window.width,
					kernel_height: 1,
					kernel_width: 1,
					stride_height: 1,
					stride_width: 1,
					pad_top: 0,
					pad_left: 0,
					..window
				};
			}
			let panel_width = [4, 8, 16][next(3) as usize];
			let k = u64::from(window.planes) * window.taps();
			let panel_len = (k * u64::from(panel_width)) as u32 + next(3) * panel_width;
			let call = Im2colCall { x: 0, y: 0, panel_width, panel_len, window };
			assert!(call.is_well_formed());
			// Inputs with NaN payloads and negative zeros: copied, bit for bit.
			let x: Vec<f32> = (0..window.input_elements().unwrap())
				.map(|i| f32::from_bits(if i % 7 == 3 { 0x7fa0_0001 + i as u32 } else { 0x8000_0000 | i as u32 }))
				.collect();
			let untouched = f32::from_bits(0x7f80_1234);
			let mut y = vec![untouched; call.output_elements().unwrap() as usize];
			im2col_f32(&x, &mut y, &call);
			let expected: Vec<u32> = by_element(&x, &call).iter().map(|v| v.unwrap_or(untouched.to_bits())).collect();
			assert_eq!(y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), expected, "{call:?}");
		}
	}
}
