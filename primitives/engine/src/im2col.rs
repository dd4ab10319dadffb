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
	// tract's kernels' panels (8 columns in the guest's) with their width a constant, so that a
	// whole panel's row is one move of a fixed size. A well-formed call's panels are 4, 8 or 16
	// columns wide.
	match call.panel_width {
		4 => walk::<4>(x, y, call),
		8 => walk::<8>(x, y, call),
		16 => walk::<16>(x, y, call),
		// Never: the host refuses a call that is not well formed before it calls this (the
		// engine's tests check that it refuses other widths).
		_ => {},
	}
}

/// [`im2col_f32`] for panels `R` columns wide. Each row of the matrix is written straight into
/// its panels, never gathered into a buffer first: a panel read back from stores just made may
/// wait for them (a stall that came and went with the buffer's address: `pytorch_Conv2d`'s call
/// 29 % longer).
fn walk<const R: usize>(x: &[f32], y: &mut [f32], call: &Im2colCall) {
	let window = &call.window;
	let (h, w) = (window.height as usize, window.width as usize);
	let (oh, ow) = (window.out_height as usize, window.out_width as usize);
	let (kh, kw) = (window.kernel_height as usize, window.kernel_width as usize);
	let (sh, sw, dh) = (window.stride_height as usize, window.stride_width as usize, window.dilation_height as usize);
	let panels = Panels::<R> { panel_len: call.panel_len as usize };
	let (planes, n) = (window.planes as usize, oh * ow);
	if planes == 0 || kh == 0 || kw == 0 || n == 0 {
		return;
	}
	// A row of the matrix is its plane itself where the window is one tap that reads every
	// pixel once, in order.
	let whole_plane =
		window.taps() == 1 && (sh, sw, oh, ow) == (1, 1, h, w) && window.pad_top == 0 && window.pad_left == 0;
	for c in 0..planes {
		let plane = &x[c * h * w..][..h * w];
		for ky in 0..kh {
			for kx in 0..kw {
				let kk = (c * kh + ky) * kw + kx;
				if whole_plane {
					panels.copy(y, kk, 0, plane);
					continue;
				}
				// The output columns `lo..hi` where this column of the window lies inside the
				// input, and the input column of the first (none where it never does): worked
				// out again for each row of the matrix, never held for the whole window, whose
				// columns may be many more than the memory holds.
				let span = column_span(window, kx);
				for oy in 0..oh {
					let row = oy * ow;
					let iy = (oy * sh + ky * dh) as i64 - i64::from(window.pad_top);
					let Some((lo, hi, first)) = span.filter(|_| (0..h as i64).contains(&iy)) else {
						panels.zero(y, kk, row..row + ow);
						continue;
					};
					let input_row = &plane[iy as usize * w..][..w];
					panels.zero(y, kk, row..row + lo);
					if sw == 1 {
						panels.copy(y, kk, row + lo, &input_row[first..][..hi - lo]);
					} else {
						let taps = &input_row[first..][..(hi - lo - 1) * sw + 1];
						panels.each_run(y, kk, row + lo..row + hi, |run, at| {
							for (i, out) in run.iter_mut().enumerate() {
								*out = taps[(at + i) * sw];
							}
						});
					}
					panels.zero(y, kk, row + hi..row + ow);
				}
			}
		}
	}
}

/// Where the matrix's columns go: `R` columns to a panel, panels `panel_len` f32s apart, row
/// `kk` of a panel at `kk · R` in it.
struct Panels<const R: usize> {
	panel_len: usize,
}

impl<const R: usize> Panels<R> {
	/// Calls `write` with each run of consecutive f32s of `y` that holds some of the columns
	/// `columns` of row `kk` (one run for each panel they cross, in order) and the place of the
	/// run's first column among them.
	#[inline(always)]
	fn each_run(
		&self,
		y: &mut [f32],
		kk: usize,
		columns: std::ops::Range<usize>,
		mut write: impl FnMut(&mut [f32], usize),
	) {
		let mut col = columns.start;
		while col < columns.end {
			let (panel, lane) = (col / R, col % R);
			let len = (R - lane).min(columns.end - col);
			let at = panel * self.panel_len + kk * R + lane;
			write(&mut y[at..at + len], col - columns.start);
			col += len;
		}
	}

	/// Writes `values` as the columns from `col` of row `kk`.
	#[inline(always)]
	fn copy(&self, y: &mut [f32], kk: usize, col: usize, values: &[f32]) {
		self.each_run(y, kk, col..col + values.len(), |run, at| {
			in_fixed_moves(run, |chunk, from| chunk.copy_from_slice(&values[at + from..][..chunk.len()]))
		});
	}

	/// Sets the columns `columns` of row `kk` to `+0`.
	#[inline(always)]
	fn zero(&self, y: &mut [f32], kk: usize, columns: std::ops::Range<usize>) {
		self.each_run(y, kk, columns, |run, _| in_fixed_moves(run, |chunk, _| chunk.fill(0.0)));
	}
}

/// Calls `write` on `run` (at most 16 f32s: a run within a panel) cut into chunks of 16, 8, 4, 2
/// and 1 f32s, each with its place in the run: a write of a length the compiler knows is a few
/// moves, where one of a length known only at run time is a call of `memmove` or `memset`
/// (most runs of a small convolution are a part of a panel).
#[inline(always)]
fn in_fixed_moves(run: &mut [f32], mut write: impl FnMut(&mut [f32], usize)) {
	debug_assert!(run.len() <= 16);
	let mut at = 0;
	for size in [16, 8, 4, 2, 1] {
		if run.len() - at >= size {
			write(&mut run[at..at + size], at);
			at += size;
		}
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
