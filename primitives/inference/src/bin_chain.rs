//! Chains of element-wise binary operations on f32 tensors on the node: the layout of the call
//! through which the guest hands tract's `OptBinChain` (a batch normalisation's multiply and add,
//! a ReLU's max, a residual add, folded into one pass over the accumulator) to the node
//! (`veriml.run_bin_chain`), what makes it well formed, and its fuel. The node computes it
//! (`veriml_engine`'s `bin_chain`).
//!
//! Each element of the accumulator `a` goes through the steps in order, `a = op(a, b)` with `b`
//! the step's operand element for it ([`Share`]): add, multiply and subtract are IEEE f32
//! operations, `min` is `if a < b { a } else { b }` and `max` is `if a > b { a } else { b }`. A
//! result that is NaN is the canonical NaN, as wasm's arithmetic gives it. These are the bits
//! of tract's `OptBinChain` in the guest (its chunked pass, the steps one at a time, the
//! short-period broadcast, its SIMD `pmax` and `pmin` by a scalar) for every chain the guest
//! hands over: not one with a `min` or `max` that tract computes with the scalar `f32::max` or
//! `f32::min`, or whose operand holds a NaN. The guest checks it at the node's start-up with
//! random chains against tract's code in wasm (`veriml_check_host_kernel`), as it does the
//! tile kernel, the LRN, the pools and the depthwise convolutions.

/// The wasm import through which the guest hands a chain to the host:
/// `run_bin_chain(call: u32)`, the address of a [`BinChainCall`].
pub const BIN_CHAIN_IMPORT: &str = "run_bin_chain";

/// Steps a call holds at most (the guest hands a longer chain over in several calls).
pub const MAX_CHAIN_STEPS: usize = 16;

/// Words of a [`BinChainCall`] in guest memory: four, then four a step, unused steps zero.
pub const BIN_CHAIN_CALL_WORDS: usize = 4 + 4 * MAX_CHAIN_STEPS;

/// Elements of the accumulator the host takes through every step at a time (32 KiB).
pub const CHAIN_TILE: u64 = 8192;

/// Fuel charged for a call, whatever its size: the host call and reading its words.
pub const CHAIN_FUEL_PER_CALL: u64 = 96;
/// Fuel per step, whatever its size: reading and checking it.
pub const CHAIN_FUEL_PER_STEP: u64 = 16;
/// Fuel per element of the accumulator: read (copied to the output where that lies apart),
/// written back and its NaN tested.
pub const CHAIN_FUEL_PER_ELEMENT: u64 = 3;
/// Fuel per element of the accumulator and step: the operation.
pub const CHAIN_FUEL_PER_STEP_ELEMENT: u64 = 1;
/// Fuel per element of the accumulator and step whose operand moves with it
/// ([`Pattern::Zip`]): the operand's element read.
pub const CHAIN_FUEL_PER_OPERAND_ELEMENT: u64 = 1;
/// Fuel per run of a step: a stretch of the accumulator, within one tile, over which its
/// operand's element stays the same ([`Pattern::Scalar`]) or moves one a step
/// ([`Pattern::Zip`]).
pub const CHAIN_FUEL_PER_RUN: u64 = 8;

/// A step's operation on the accumulator `a` and the operand `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ChainOp {
	/// `if a < b { a } else { b }`.
	Min = 0,
	/// `if a > b { a } else { b }`.
	Max = 1,
	/// `a + b`.
	Add = 2,
	/// `a · b`.
	Mul = 3,
	/// `a - b`.
	Sub = 4,
	/// `b - a`.
	SubF = 5,
}

impl ChainOp {
	/// The operation a step's word names.
	pub fn from_word(word: u32) -> Option<Self> {
		Some(match word {
			0 => Self::Min,
			1 => Self::Max,
			2 => Self::Add,
			3 => Self::Mul,
			4 => Self::Sub,
			5 => Self::SubF,
			_ => return None,
		})
	}
}

/// How a step's operand of `b_elements` lines up with the accumulator's `elements`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Share {
	/// Element `i` of the accumulator meets element `i mod b_elements` (tract's `Lockstep`).
	Lockstep = 0,
	/// The accumulator is `b_elements` blocks of equal length; block `k` meets element `k`
	/// (tract's `PerBlock`).
	PerBlock = 1,
}

/// How the host walks a step's operand along the accumulator: one element of it for a run of
/// `run` elements, or along it in periods of `period` elements. [`Share`]s that mean the same
/// walk are one pattern (a lockstep operand of one element is a scalar; blocks of one element
/// are a walk along the whole operand).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
	/// Element `i` meets element `i / run` of the operand.
	Scalar { run: u64 },
	/// Element `i` meets element `i mod period` of the operand.
	Zip { period: u64 },
}

/// One step of a chain: four little-endian `u32`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainStep {
	/// A [`ChainOp`].
	pub op: u32,
	/// Address of the operand, `b_elements` f32s.
	pub b: u32,
	/// 1 or more, dividing the accumulator's elements.
	pub b_elements: u32,
	/// A [`Share`].
	pub share: u32,
}

impl ChainStep {
	/// Its pattern over an accumulator of `elements`; `None` if malformed: an unknown
	/// operation or share, no operand element, or an operand whose length does not divide
	/// `elements` (an empty accumulator has no step: every operand is longer).
	pub fn pattern(&self, elements: u64) -> Option<Pattern> {
		ChainOp::from_word(self.op)?;
		let b = u64::from(self.b_elements);
		if b == 0 || b > elements || elements % b != 0 {
			return None;
		}
		let per_block = match self.share {
			0 => false,
			1 => true,
			_ => return None,
		};
		Some(if b == 1 {
			Pattern::Scalar { run: elements }
		} else if per_block && b < elements {
			Pattern::Scalar { run: elements / b }
		} else {
			Pattern::Zip { period: if per_block { elements } else { b } }
		})
	}
}

/// A chain in guest memory: [`BIN_CHAIN_CALL_WORDS`] little-endian `u32`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BinChainCall {
	/// Address of the accumulator, `elements` f32s.
	pub x: u32,
	/// Address of the output, `elements` f32s: the accumulator's own (in place) or apart from
	/// it; apart from every operand.
	pub y: u32,
	/// Elements of the accumulator.
	pub elements: u32,
	/// Steps, 1 to [`MAX_CHAIN_STEPS`]: the first `count` of `steps`.
	pub count: u32,
	pub steps: [ChainStep; MAX_CHAIN_STEPS],
}

impl BinChainCall {
	/// The call's words, in memory order.
	pub fn to_words(&self) -> [u32; BIN_CHAIN_CALL_WORDS] {
		let mut words = [0; BIN_CHAIN_CALL_WORDS];
		words[..4].copy_from_slice(&[self.x, self.y, self.elements, self.count]);
		for (step, words) in self.steps.iter().zip(words[4..].chunks_exact_mut(4)) {
			words.copy_from_slice(&[step.op, step.b, step.b_elements, step.share]);
		}
		words
	}

	/// The call read from its words.
	pub fn from_words(w: [u32; BIN_CHAIN_CALL_WORDS]) -> Self {
		let mut steps = [ChainStep::default(); MAX_CHAIN_STEPS];
		for (step, w) in steps.iter_mut().zip(w[4..].chunks_exact(4)) {
			*step = ChainStep { op: w[0], b: w[1], b_elements: w[2], share: w[3] };
		}
		Self { x: w[0], y: w[1], elements: w[2], count: w[3], steps }
	}

	/// Its steps, the first `count`; none where `count` is more than [`MAX_CHAIN_STEPS`].
	pub fn steps(&self) -> &[ChainStep] {
		self.steps.get(..self.count as usize).unwrap_or(&[])
	}

	/// Whether the node's `bin_chain_f32` can run it: 1 to [`MAX_CHAIN_STEPS`] steps, each with
	/// a [pattern](ChainStep::pattern), every address a whole number of f32s from the start of
	/// memory.
	pub fn is_well_formed(&self) -> bool {
		let elements = u64::from(self.elements);
		(1..=MAX_CHAIN_STEPS).contains(&(self.count as usize)) &&
			self.steps().iter().all(|step| step.pattern(elements).is_some() && step.b % 4 == 0) &&
			self.x % 4 == 0 && self.y % 4 == 0
	}

	/// The fuel of running it; `None` if malformed.
	pub fn fuel(&self) -> Option<u64> {
		if !self.is_well_formed() {
			return None;
		}
		let elements = u64::from(self.elements);
		let tiles = elements.div_ceil(CHAIN_TILE);
		let mut fuel = CHAIN_FUEL_PER_CALL + elements * CHAIN_FUEL_PER_ELEMENT;
		for step in self.steps() {
			let (runs, per_element) = match step.pattern(elements)? {
				Pattern::Scalar { run } => (elements / run.max(1), CHAIN_FUEL_PER_STEP_ELEMENT),
				Pattern::Zip { period } =>
					(elements / period, CHAIN_FUEL_PER_STEP_ELEMENT + CHAIN_FUEL_PER_OPERAND_ELEMENT),
			};
			// A run ends where the operand's element (or period) changes, or a tile does.
			fuel += CHAIN_FUEL_PER_STEP + elements * per_element + (runs + tiles) * CHAIN_FUEL_PER_RUN;
		}
		Some(fuel)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn step(op: ChainOp, b_elements: u32, share: Share) -> ChainStep {
		ChainStep { op: op as u32, b: 64, b_elements, share: share as u32 }
	}

	#[test]
	fn steps_walk_their_operands_as_their_shares_say() {
		// A per-channel operand over 4 channels of 6 elements; a lockstep one of a channel.
		assert_eq!(step(ChainOp::Mul, 4, Share::PerBlock).pattern(24), Some(Pattern::Scalar { run: 6 }));
		assert_eq!(step(ChainOp::Add, 6, Share::Lockstep).pattern(24), Some(Pattern::Zip { period: 6 }));
		// One element is a scalar either way; blocks of one element walk the whole operand.
		assert_eq!(step(ChainOp::Max, 1, Share::Lockstep).pattern(24), Some(Pattern::Scalar { run: 24 }));
		assert_eq!(step(ChainOp::Max, 1, Share::PerBlock).pattern(24), Some(Pattern::Scalar { run: 24 }));
		assert_eq!(step(ChainOp::Sub, 24, Share::PerBlock).pattern(24), Some(Pattern::Zip { period: 24 }));
		assert_eq!(step(ChainOp::SubF, 24, Share::Lockstep).pattern(24), Some(Pattern::Zip { period: 24 }));
		// Refused: no operand element, one that does not divide or is longer than the
		// accumulator (an empty one has no step), an unknown operation or share.
		assert_eq!(step(ChainOp::Mul, 0, Share::PerBlock).pattern(24), None);
		assert_eq!(step(ChainOp::Mul, 48, Share::Lockstep).pattern(24), None);
		assert_eq!(step(ChainOp::Min, 3, Share::PerBlock).pattern(0), None);
		assert_eq!(step(ChainOp::Min, 1, Share::Lockstep).pattern(0), None);
		assert_eq!(step(ChainOp::Mul, 5, Share::Lockstep).pattern(24), None);
		assert_eq!(ChainStep { op: 6, ..step(ChainOp::Mul, 4, Share::PerBlock) }.pattern(24), None);
		assert_eq!(ChainStep { share: 2, ..step(ChainOp::Mul, 4, Share::PerBlock) }.pattern(24), None);
	}

	#[test]
	fn a_chain_pays_for_every_element_of_every_step_and_its_words_round_trip() {
		let mut call = BinChainCall { x: 0, y: 0, elements: 24, count: 2, ..Default::default() };
		call.steps[0] = step(ChainOp::Mul, 4, Share::PerBlock);
		call.steps[1] = step(ChainOp::Add, 6, Share::Lockstep);
		assert!(call.is_well_formed());
		let per_run = CHAIN_FUEL_PER_RUN;
		assert_eq!(
			call.fuel(),
			Some(
				CHAIN_FUEL_PER_CALL +
					24 * CHAIN_FUEL_PER_ELEMENT +
					2 * CHAIN_FUEL_PER_STEP +
					24 * CHAIN_FUEL_PER_STEP_ELEMENT +
					(4 + 1) * per_run +
					24 * (CHAIN_FUEL_PER_STEP_ELEMENT + CHAIN_FUEL_PER_OPERAND_ELEMENT) +
					(4 + 1) * per_run
			)
		);
		assert_eq!(BinChainCall::from_words(call.to_words()), call);
		// Refused: no step, more than sixteen, an unaligned address, a malformed step.
		assert!(!BinChainCall { count: 0, ..call }.is_well_formed());
		assert!(!BinChainCall { count: 17, ..call }.is_well_formed());
		assert!(!BinChainCall { y: 2, ..call }.is_well_formed());
		let mut odd = call;
		odd.steps[1].b = 6;
		assert!(!odd.is_well_formed());
		odd.steps[1] = step(ChainOp::Add, 5, Share::Lockstep);
		assert_eq!(odd.fuel(), None);
		// The largest call's fuel fits a u64: 2^32 elements through sixteen steps, fifteen of
		// them an operand as long as the accumulator, one of runs of three.
		let mut huge = BinChainCall { elements: u32::MAX, count: 16, ..call };
		huge.steps = [step(ChainOp::Add, u32::MAX, Share::PerBlock); MAX_CHAIN_STEPS];
		huge.steps[0] = step(ChainOp::Add, 3, Share::Lockstep);
		assert!(huge.fuel().unwrap() > 16 * u64::from(u32::MAX) * 2);
	}
}
