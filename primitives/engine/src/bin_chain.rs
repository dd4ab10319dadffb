//! The host's element-wise chains (`veriml.run_bin_chain`, see
//! `veriml_inference_primitives::bin_chain`): the bits of tract's `OptBinChain` in the guest, which
//! the guest checks against it at start-up.

use crate::host_kernel::canonical_tile;
use veriml_inference_primitives::bin_chain::{ChainOp, Pattern, CHAIN_TILE};

/// One step of a chain, its operand read out of guest memory's place.
pub(crate) struct Step<'a> {
	pub op: ChainOp,
	pub b: &'a [f32],
	pub pattern: Pattern,
}

/// One step over `tile`, the accumulator's elements from `start`, with the operation chosen once
/// so that each walk is compiled with its own: add, multiply and subtract are IEEE operations,
/// never fused; their NaNs are made canonical once per tile by [`bin_chain_f32`].
fn apply(step: &Step, tile: &mut [f32], start: usize) {
	match step.op {
		ChainOp::Min => walk(step, tile, start, |x, b| if x < b { x } else { b }),
		ChainOp::Max => walk(step, tile, start, |x, b| if x > b { x } else { b }),
		ChainOp::Add => walk(step, tile, start, |x, b| x + b),
		ChainOp::Mul => walk(step, tile, start, |x, b| x * b),
		ChainOp::Sub => walk(step, tile, start, |x, b| x - b),
		ChainOp::SubF => walk(step, tile, start, |x, b| b - x),
	}
}

/// `x = f(x, b)` over `tile`, run by run: a stretch over which the operand's element `b` stays
/// (a scalar) or moves one an element (zipped), the operand's place worked out once a tile.
#[inline(always)]
fn walk(step: &Step, tile: &mut [f32], start: usize, f: impl Fn(f32, f32) -> f32) {
	let len = tile.len();
	match step.pattern {
		Pattern::Scalar { run } => {
			let run = run as usize;
			let (mut k, mut i) = (start / run, 0);
			let mut end = ((k + 1) * run - start).min(len);
			while i < len {
				let s = step.b[k];
				tile[i..end].iter_mut().for_each(|x| *x = f(*x, s));
				(i, k, end) = (end, k + 1, (end + run).min(len));
			}
		},
		Pattern::Zip { period } => {
			let (period, mut offset, mut i) = (period as usize, start % period as usize, 0);
			while i < len {
				let n = (period - offset).min(len - i);
				tile[i..i + n].iter_mut().zip(&step.b[offset..offset + n]).for_each(|(x, b)| *x = f(*x, *b));
				(i, offset) = (i + n, 0);
			}
		},
	}
}

/// Takes every element of `a` through `steps` in order, in place, tile by tile: the chain of
/// `veriml_inference_primitives::bin_chain`, NaNs canonical. Each step's pattern must fit `a`
/// and its operand ([`veriml_inference_primitives::bin_chain::ChainStep::pattern`]).
pub(crate) fn bin_chain_f32(a: &mut [f32], steps: &[Step]) {
	for (index, tile) in a.chunks_mut(CHAIN_TILE as usize).enumerate() {
		let start = index * CHAIN_TILE as usize;
		for step in steps {
			apply(step, tile, start);
		}
		// A NaN after the last step is NaN however it came (an operation on a NaN gives a NaN,
		// `min` and `max` answer their operand for a NaN accumulator): wasm canonicalised it.
		canonical_tile(tile);
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use veriml_inference_primitives::{
		bin_chain::{ChainStep, Share},
		host_kernel::canonical,
	};

	/// The chain by its definition, element by element, NaNs made canonical after every step.
	fn definition(a: &[f32], steps: &[(ChainOp, Vec<f32>, Share)]) -> Vec<u32> {
		let blocks = |b: &[f32]| a.len() / b.len();
		(0..a.len())
			.map(|i| {
				steps
					.iter()
					.fold(a[i], |x, (op, b, share)| {
						let b = match share {
							Share::Lockstep => b[i % b.len()],
							Share::PerBlock => b[i / blocks(b)],
						};
						canonical(match op {
							ChainOp::Min => {
								if x < b {
									x
								} else {
									b
								}
							},
							ChainOp::Max => {
								if x > b {
									x
								} else {
									b
								}
							},
							ChainOp::Add => x + b,
							ChainOp::Mul => x * b,
							ChainOp::Sub => x - b,
							ChainOp::SubF => b - x,
						})
					})
					.to_bits()
			})
			.collect()
	}

	#[test]
	fn chains_give_every_element_the_definitions_bits() {
		let mut seed = 7u64;
		let mut next = |n: u64| {
			seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
			(seed >> 33) % n
		};
		let specials = [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN, f32::MAX, 1.0e-40];
		for _ in 0..3000 {
			// Some tensors past a tile, so that runs are cut at its end.
			let elements = [1, 2, 6, 24, 60, 96, 8192 + 24, 3 * 8192][next(8) as usize];
			let value = |next: &mut dyn FnMut(u64) -> u64, payload: u32| -> f32 {
				match next(10) {
					0 => specials[next(specials.len() as u64) as usize],
					1 => f32::from_bits(0x7fc0_0000 | payload),
					_ => (next(2000) as f32 - 1000.0) / 7.0,
				}
			};
			let a: Vec<f32> = (0..elements).map(|i| value(&mut next, i as u32)).collect();
			let divisors: Vec<usize> = (1..=elements).filter(|d| elements % d == 0).collect();
			let steps: Vec<(ChainOp, Vec<f32>, Share)> = (0..1 + next(5))
				.map(|_| {
					let op = ChainOp::from_word(next(6) as u32).unwrap();
					let share = if next(2) == 0 { Share::Lockstep } else { Share::PerBlock };
					let b = (0..divisors[next(divisors.len() as u64) as usize])
						.map(|i| value(&mut next, i as u32 + 9))
						.collect();
					(op, b, share)
				})
				.collect();
			let patterns: Vec<Step> = steps
				.iter()
				.map(|(op, b, share)| {
					let word = ChainStep { op: *op as u32, b: 0, b_elements: b.len() as u32, share: *share as u32 };
					Step { op: *op, b, pattern: word.pattern(elements as u64).unwrap() }
				})
				.collect();
			let mut host = a.clone();
			bin_chain_f32(&mut host, &patterns);
			assert_eq!(host.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), definition(&a, &steps));
		}
	}
}
