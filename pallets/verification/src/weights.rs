
//! Weights of `pallet_verification`. `challenge` was measured by `scripts/benchmark/pallets.sh`
//! (`veriml-node benchmark pallet`, CLI 64.0.0, STEPS `20`, REPEAT `10`, 2026-11-27, Intel Xeon
//! @ 2.50GHz) when the call was `pallet_inference_requests`' and read and wrote the request
//! (now it reads the proposer's node record instead, and writes one item less): an upper bound
//! until the script is run again for this pallet (`scripts/benchmark/pallets.sh
//! pallet_verification`).

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use core::marker::PhantomData;
use frame_support::{traits::Get, weights::{constants::ParityDbWeight, Weight}};

/// Weights of the calls of `pallet_verification`.
pub trait WeightInfo {
	fn challenge(d: u32, ) -> Weight;
}

/// Weights for `pallet_verification` using the Substrate node and recommended hardware.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `InferenceNodes::Nodes` (r:2 w:0)
	/// Proof: `InferenceNodes::Nodes` (`max_values`: None, `max_size`: Some(618), added: 3093, mode: `MaxEncodedLen`)
	/// Storage: `Verification::Proposals` (r:1 w:1)
	/// Proof: `Verification::Proposals` (`max_values`: None, mode: `MaxEncodedLen`)
	/// Storage: `Verification::Disputes` (r:1 w:1)
	/// Proof: `Verification::Disputes` (`max_values`: Some(1), `max_size`: Some(514), added: 1009, mode: `MaxEncodedLen`)
	/// Storage: `Verification::ChallengeWindows` (r:0 w:1)
	/// Proof: `Verification::ChallengeWindows` (`max_values`: None, `max_size`: Some(28), added: 2503, mode: `MaxEncodedLen`)
	/// The range of component `d` is `[0, 63]`.
	fn challenge(d: u32, ) -> Weight {
		// Proof size: measured `790 + d * (8 ±0)`, estimated `4193`
		// Minimum execution time: 67_239_000 picoseconds.
		Weight::from_parts(73_196_890, 4193)
			// Standard error: 2_744
			.saturating_add(Weight::from_parts(29_571, 0).saturating_mul(d.into()))
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
}

/// The same figures with ParityDB's database weights, for tests and mocks.
impl WeightInfo for () {
	fn challenge(d: u32, ) -> Weight {
		Weight::from_parts(73_196_890, 4193)
			.saturating_add(Weight::from_parts(29_571, 0).saturating_mul(d.into()))
			.saturating_add(ParityDbWeight::get().reads(4_u64))
			.saturating_add(ParityDbWeight::get().writes(4_u64))
	}
}
