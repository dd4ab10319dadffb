//! The host's `LRN` (`veriml.run_lrn`, see `veriml_inference_primitives::lrn`): the bits of
//! that module's `lrn_f32`, which the guest runs in wasm against this at start-up, with its
//! `powf` computed many elements at a time (vector lanes).
//!
//! `lrn_f32` spends nearly all its time in `libm::powf`, one element at a time: 32 ns an
//! element in Inception v1's two LRNs, a third of that model's run. `libm`'s `powf` (FreeBSD's
//! `e_powf.c`, the same source on every CPU) answers its special cases (NaN, ±0, ±∞, 1, a
//! subnormal base, an exponent of 0, ±1, 2, ½ or beyond 2²⁷, a result that overflows or is
//! subnormal) on branches of their own; every other positive base takes one straight path of
//! f32 operations and bit masks. [`powf_lanes`] is that path, written without a branch, so the
//! compiler computes it in vector lanes (sixteen with AVX-512, eight with AVX2, four with
//! SSE2 or NEON): per lane the same IEEE operations in
//! the same order, each rounded once, never fused. Lanes whose base or result takes a special
//! branch are recomputed by `libm::powf` itself. So every power is `libm::powf`'s on every CPU;
//! the tests compare both over sampled bit patterns of the base and over the exponents LRNs
//! use, and the guest's start-up check compares the whole `LRN` with its wasm.

use veriml_inference_primitives::{host_kernel::canonical, lrn::LrnCall};

/// Powers computed together: one AVX-512 register, two AVX2 registers.
const LANES: usize = 16;

/// Writes the `LRN` of `x` into `y`: `veriml_inference_primitives::lrn::lrn_f32`'s walk and
/// bits, each element `canonical(x / powf(bias + (alpha / size) · square_sum, beta))`, with
/// the powers of a channel's row computed by [`powf_row`]. The same preconditions: `x` and `y`
/// hold the call's elements and its size is 1 or more (the host checks both).
pub fn lrn_f32(x: &[f32], y: &mut [f32], call: &LrnCall) {
	let (batches, channels, inner, size) =
		(call.batches as usize, call.channels as usize, call.inner as usize, call.size as usize);
	let (alpha, beta, bias) = (f32::from_bits(call.alpha), f32::from_bits(call.beta), f32::from_bits(call.bias));
	let scale = alpha / size as f32;
	// No element (a call of no batch still names its rows' length, which is not to be held).
	if batches == 0 || channels == 0 || inner == 0 {
		return;
	}
	// A row's sums of squares, then its bases, then its powers, in place.
	let mut row_powers = vec![-0.0f32; inner];
	for (batch, out) in x.chunks_exact(channels * inner).zip(y.chunks_exact_mut(channels * inner)).take(batches) {
		for c in 0..channels {
			let c_min = c.saturating_sub((size - 1) / 2);
			let c_max = (c + (size - 1).div_ceil(2)).min(channels - 1);
			row_powers.fill(-0.0);
			for row in batch[c_min * inner..(c_max + 1) * inner].chunks_exact(inner) {
				for (sum, value) in row_powers.iter_mut().zip(row) {
					*sum += value * value;
				}
			}
			for sum in row_powers.iter_mut() {
				*sum = bias + scale * *sum;
			}
			powf_row(&mut row_powers, beta);
			let (row, out) = (&batch[c * inner..(c + 1) * inner], &mut out[c * inner..(c + 1) * inner]);
			for ((y, x), power) in out.iter_mut().zip(row).zip(&row_powers) {
				*y = canonical(x / power);
			}
		}
	}
}

/// Replaces each element `b` of `bases` by `libm::powf(b, y)`.
pub fn powf_row(bases: &mut [f32], y: f32) {
	if !ordinary_exponent(y) {
		for base in bases {
			*base = libm::powf(*base, y);
		}
		return;
	}
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx512f") {
		// SAFETY: the CPU has AVX-512F.
		unsafe { powf_row_avx512(bases, y) };
		return;
	}
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx2") {
		// SAFETY: the CPU has AVX2.
		unsafe { powf_row_avx2(bases, y) };
		return;
	}
	powf_row_lanes(bases, y)
}

/// [`powf_row_lanes`] compiled for AVX2 (eight lanes a register, variable shifts).
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn powf_row_avx2(bases: &mut [f32], y: f32) {
	powf_row_lanes(bases, y)
}

/// [`powf_row_lanes`] compiled for AVX-512 (sixteen lanes a register).
///
/// # Safety
/// The CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn powf_row_avx512(bases: &mut [f32], y: f32) {
	powf_row_lanes(bases, y)
}

/// [`powf_row`] for an [`ordinary_exponent`]: [`LANES`] bases at a time by [`powf_lanes`], the
/// lanes it does not take and the last few bases by `libm::powf`.
#[inline(always)]
fn powf_row_lanes(bases: &mut [f32], y: f32) {
	let mut chunks = bases.chunks_exact_mut(LANES);
	for chunk in &mut chunks {
		let lanes: &mut [f32; LANES] = chunk.try_into().expect("a chunk of LANES");
		let (powers, taken) = powf_lanes(lanes, y);
		for ((base, power), taken) in lanes.iter_mut().zip(powers).zip(taken) {
			*base = if taken { power } else { libm::powf(*base, y) };
		}
	}
	for base in chunks.into_remainder() {
		*base = libm::powf(*base, y);
	}
}

/// Whether `libm::powf(x, y)` takes its general path for every positive normal `x` but 1:
/// `y` is not ±0, NaN, ±∞, ±1, 2 or ½, and `|y| ≤ 2²⁷`.
fn ordinary_exponent(y: f32) -> bool {
	let (hy, iy) = (y.to_bits(), y.to_bits() & 0x7fff_ffff);
	iy != 0 && iy <= 0x4d00_0000 && iy != 0x3f80_0000 && hy != 0x4000_0000 && hy != 0x3f00_0000
}

/// `libm::powf(x, y)` for each lane `x` of `bases` and an [`ordinary_exponent`] `y`, and
/// whether the lane's answer is that: false for a lane that `libm::powf` answers on a special
/// branch (a base that is not a positive normal number, or whose result overflows, underflows
/// or is subnormal), whose answer here is meaningless. A base of exactly 1 gives 1.
#[inline(always)]
fn powf_lanes(bases: &[f32; LANES], y: f32) -> ([f32; LANES], [bool; LANES]) {
	let mut powers = [0f32; LANES];
	let mut taken = [false; LANES];
	for ((power, taken), &x) in powers.iter_mut().zip(&mut taken).zip(bases) {
		(*power, *taken) = powf_general(x, y);
	}
	(powers, taken)
}

/// The constants of `libm`'s `powf` that its general path uses (`libm/src/math/powf.rs`), by
/// the bits its comments give (its decimals round to them).
const BP1: f32 = 1.5;
const DP_H1: f32 = f32::from_bits(0x3f15c000);
const DP_L1: f32 = f32::from_bits(0x35d1cfdc);
const L1: f32 = f32::from_bits(0x3f19999a);
const L2: f32 = f32::from_bits(0x3edb6db7);
const L3: f32 = f32::from_bits(0x3eaaaaab);
const L4: f32 = f32::from_bits(0x3e8ba305);
const L5: f32 = f32::from_bits(0x3e6c3255);
const L6: f32 = f32::from_bits(0x3e53f142);
const P1: f32 = f32::from_bits(0x3e2aaaab);
const P2: f32 = f32::from_bits(0xbb360b61);
const P3: f32 = f32::from_bits(0x388ab355);
const P4: f32 = f32::from_bits(0xb5ddea0e);
const P5: f32 = f32::from_bits(0x3331bb4c);
const LG2: f32 = f32::from_bits(0x3f317218);
const LG2_H: f32 = f32::from_bits(0x3f317200);
const LG2_L: f32 = f32::from_bits(0x35bfbe8c);
const CP: f32 = f32::from_bits(0x3f76384f);
const CP_H: f32 = f32::from_bits(0x3f764000);
const CP_L: f32 = f32::from_bits(0xb8f623c6);

/// One lane of [`powf_lanes`]: `libm`'s `powf` from its special cases on, for a positive
/// normal `x` and an [`ordinary_exponent`] `y`, statement by statement with selects where it
/// branches (both sides computed, one kept; a shift that only the side not kept would make out
/// of range wraps, never panics). Answers the power and whether `libm` computes it so.
#[inline(always)]
fn powf_general(x: f32, y: f32) -> (f32, bool) {
	let hx = x.to_bits() as i32;
	// A positive normal base but 1 (`libm` answers 1 for a base of 1 before anything else).
	let one = hx == 0x3f80_0000;
	let mut taken = (0x0080_0000..0x7f80_0000).contains(&hx) && !one;

	// log2(x) = n + dp_h + z_h + z_l (the base normal: no rescaling of a subnormal).
	let mut n = (hx >> 23) - 0x7f;
	let j = hx & 0x007f_ffff;
	let mut ix = j | 0x3f80_0000;
	let k1 = j > 0x1c_c471 && j < 0x5d_b3d7;
	let above = j >= 0x5d_b3d7;
	n += i32::from(above);
	ix -= if above { 0x0080_0000 } else { 0 };
	let ax = f32::from_bits(ix as u32);
	let (bp, dp_h, dp_l) = if k1 { (BP1, DP_H1, DP_L1) } else { (1.0, 0.0, 0.0) };

	let u = ax - bp;
	let v = 1.0 / (ax + bp);
	let s = u * v;
	let s_h = f32::from_bits(s.to_bits() & 0xffff_f000);
	let t_h = f32::from_bits(((ix as u32 >> 1) & 0xffff_f000 | 0x2000_0000) + 0x0040_0000 + (u32::from(k1) << 21));
	let t_l = ax - (t_h - bp);
	let s_l = v * ((u - s_h * t_h) - s_h * t_l);
	let s2 = s * s;
	let mut r = s2 * s2 * (L1 + s2 * (L2 + s2 * (L3 + s2 * (L4 + s2 * (L5 + s2 * L6)))));
	r += s_l * (s_h + s);
	let s2 = s_h * s_h;
	let t_h = f32::from_bits((3.0 + s2 + r).to_bits() & 0xffff_f000);
	let t_l = r - ((t_h - 3.0) - s2);
	let u = s_h * t_h;
	let v = s_l * t_h + t_l * s;
	let p_h = f32::from_bits((u + v).to_bits() & 0xffff_f000);
	let p_l = v - (p_h - u);
	let z_h = CP_H * p_h;
	let z_l = CP_L * p_h + p_l * CP + dp_l;
	let t = n as f32;
	let t1 = f32::from_bits((((z_h + z_l) + dp_h) + t).to_bits() & 0xffff_f000);
	let t2 = z_l - (((t1 - t) - dp_h) - z_h);

	// (y1 + y2) · (t1 + t2).
	let y1 = f32::from_bits(y.to_bits() & 0xffff_f000);
	let p_l = (y - y1) * t1 + y * t2;
	let mut p_h = y1 * t1;
	let z = p_l + p_h;
	let j = z.to_bits() as i32;
	// `libm` answers on branches of their own when z ≥ 128 or z ≤ -150.
	taken &= j < 0x4300_0000 && (j & 0x7fff_ffff) < 0x4316_0000;

	// 2^(p_h + p_l).
	let i = j & 0x7fff_ffff;
	let k = (i >> 23) - 0x7f;
	let big = i > 0x3f00_0000;
	let nb = j.wrapping_add(0x0080_0000i32.wrapping_shr((k + 1) as u32));
	let kb = ((nb & 0x7fff_ffff) >> 23) - 0x7f;
	let tb = f32::from_bits(nb as u32 & !(0x007f_ffffu32.wrapping_shr(kb as u32)));
	let nb = ((nb & 0x007f_ffff) | 0x0080_0000).wrapping_shr((23 - kb) as u32);
	let n = match (big, j < 0) {
		(false, _) => 0,
		(true, true) => nb.wrapping_neg(),
		(true, false) => nb,
	};
	p_h = if big { p_h - tb } else { p_h };
	let t = f32::from_bits((p_l + p_h).to_bits() & 0xffff_8000);
	let u = t * LG2_H;
	let v = (p_l - (t - p_h)) * LG2 + t * LG2_L;
	let z = u + v;
	let w = v - (z - u);
	let t = z * z;
	let t1 = z - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
	let r = (z * t1) / (t1 - 2.0) - (w + z * w);
	let z = 1.0 - (r - z);
	let j = (z.to_bits() as i32).wrapping_add(n.wrapping_shl(23));
	// A subnormal result: `libm` scales it on a branch of its own.
	taken &= (j >> 23) > 0;
	// `sn * z`, `sn` 1 for a positive base.
	let power = 1.0 * f32::from_bits(j as u32);
	(if one { 1.0 } else { power }, taken || one)
}

#[cfg(test)]
mod tests {
	use super::*;

	/// The exponents of the LRNs of the benchmark models and the ONNX default (0.75), their
	/// negatives, and others on either side of the special ones.
	const EXPONENTS: [f32; 14] =
		[0.75, -0.75, 0.5001, 0.4999, 1.0001, 0.9999, 1.9999, 2.0001, 3.0, -2.5, 1e-3, -1e-3, 17.25, 1.0e8];

	/// `libm::powf`, element by element: the definition.
	fn by_libm(bases: &[f32], y: f32) -> Vec<u32> {
		bases.iter().map(|&x| libm::powf(x, y).to_bits()).collect()
	}

	type RowOfPowers = fn(&mut [f32], f32);

	/// Each way this CPU can compute a row of powers: [`powf_row`] (the widest the CPU has,
	/// and `libm` alone for an exponent that is not ordinary), and each compilation of the
	/// lanes the CPU can run.
	fn rows_of_powers() -> Vec<(&'static str, RowOfPowers)> {
		let mut ways: Vec<(&'static str, RowOfPowers)> =
			vec![("powf_row", powf_row), ("portable lanes", powf_row_lanes)];
		#[cfg(target_arch = "x86_64")]
		{
			if std::arch::is_x86_feature_detected!("avx2") {
				// SAFETY: the CPU has AVX2.
				ways.push(("AVX2 lanes", |row, y| unsafe { powf_row_avx2(row, y) }));
			}
			if std::arch::is_x86_feature_detected!("avx512f") {
				// SAFETY: the CPU has AVX-512F.
				ways.push(("AVX-512 lanes", |row, y| unsafe { powf_row_avx512(row, y) }));
			}
		}
		ways
	}

	/// `bases`' powers by `libm` and by each of [`rows_of_powers`], the same bits.
	fn assert_powers_are_libms(bases: &[f32], y: f32) {
		let by_libm = by_libm(bases, y);
		for (way, row_of_powers) in rows_of_powers() {
			if way != "powf_row" && !ordinary_exponent(y) {
				continue;
			}
			let mut row = bases.to_vec();
			row_of_powers(&mut row, y);
			let bits: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
			assert!(bits == by_libm, "{way}, y = {y}");
		}
	}

	#[test]
	fn powers_in_vector_lanes_are_libms_over_sampled_bit_patterns() {
		// Every 1021st bit pattern (both signs, every exponent, NaNs, ±∞, subnormals), and
		// around 1, where the lanes' branches meet (k = 0, 1, the rounding of t_h).
		let mut bases: Vec<f32> = (0..=u32::MAX / 1021).map(|i| f32::from_bits(i.wrapping_mul(1021))).collect();
		bases.extend((0x3f70_0000u32..0x3f90_0000).step_by(7).map(f32::from_bits));
		bases.extend(
			[0x3f80_0000 | 0x1c_c471, 0x3f80_0000 | 0x1c_c472, 0x3f80_0000 | 0x5d_b3d6, 0x3f80_0000 | 0x5d_b3d7]
				.map(f32::from_bits),
		);
		for y in EXPONENTS.into_iter().chain([0.0, 1.0, -1.0, 2.0, 0.5, f32::NAN, f32::INFINITY, 3.0e8]) {
			assert_powers_are_libms(&bases, y);
		}
		// The lanes, not `libm`, answer every positive normal base at the default exponent.
		let normal: Vec<f32> = (0x0080_0000u32..0x7f80_0000).step_by(4099).map(f32::from_bits).collect();
		for chunk in normal.chunks_exact(LANES) {
			let (_, taken) = powf_lanes(chunk.try_into().expect("a chunk of LANES"), 0.75);
			assert_eq!(taken, [true; LANES], "{chunk:?}");
		}
	}

	#[test]
	fn powers_whose_results_overflow_underflow_or_are_subnormal_are_libms() {
		// Results near 2^128 and 2^-126..2^-150: bases whose power crosses those edges.
		let mut bases = Vec::new();
		for e in [-150.0f32, -149.5, -126.0, -125.9, 127.9, 128.0, 128.1] {
			for y in [0.75f32, 3.0, -2.5] {
				let b = libm::powf(2.0, e / y);
				bases.extend((-300i32..300).map(|d| f32::from_bits(b.to_bits().wrapping_add_signed(d))));
			}
		}
		for y in [0.75f32, 3.0, -2.5] {
			assert_powers_are_libms(&bases, y);
		}
	}

	#[test]
	fn an_lrn_by_rows_of_powers_is_the_primitives_lrn() {
		let mut next = crate::max_pool::draws(11);
		let values = [0.0, -0.0, 1.0, -3.0, 0.5, 1e-20, 1e20, f32::NAN, f32::INFINITY, 250.0];
		for _ in 0..500 {
			let call = LrnCall {
				batches: 1 + next(2),
				channels: 1 + next(9),
				inner: 1 + next(40),
				size: 1 + next(7),
				alpha: [1e-4f32, 2e-5, 1.0, 0.0][next(4) as usize].to_bits(),
				beta: [0.75f32, -0.75, 0.5, 1.0, 2.0, 0.0, 3.1][next(7) as usize].to_bits(),
				bias: [1.0f32, 2.0, 0.0, -1.0][next(4) as usize].to_bits(),
				..Default::default()
			};
			let x: Vec<f32> = (0..call.elements().unwrap())
				.map(|_| {
					if next(3) == 0 {
						values[next(values.len() as u32) as usize]
					} else {
						next(1000) as f32 / 37.0 - 9.0
					}
				})
				.collect();
			let (mut by_rows, mut reference) = (vec![0f32; x.len()], vec![0f32; x.len()]);
			lrn_f32(&x, &mut by_rows, &call);
			veriml_inference_primitives::lrn::lrn_f32(&x, &mut reference, &call);
			let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
			assert_eq!(bits(&by_rows), bits(&reference), "{call:?}");
		}
	}
}
