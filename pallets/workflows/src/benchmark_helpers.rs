//! Models, nodes and feeds for the workflows' benchmarks, made the way users make them: a model
//! registered in the model registry (checked by the node's engine) with a bonded node serving
//! it, feeds registered in the data-feeds pallet with an aggregated history.

use crate::BenchmarkHelper;
use alloc::vec;
use core::marker::PhantomData;
use frame_benchmarking::account;
use frame_support::{
	traits::{fungible::Mutate, Get},
	BoundedVec,
};
use frame_system::RawOrigin;
use pallet_data_feeds::{FeedId, RoundValue};
use pallet_inference_requests::BenchmarkHelper as _;
use sp_runtime::{traits::Saturating, Perbill};
use veriml_inference_primitives::ModelHash;

/// Benchmark helper backed by the model registry, the inference-nodes and data-feeds pallets.
pub struct RegistryNodesAndFeeds<T>(PhantomData<T>);

impl<T: pallet_inference_requests::Config + pallet_data_feeds::Config> BenchmarkHelper<T::AccountId>
	for RegistryNodesAndFeeds<T>
{
	fn model(width: u32) -> ModelHash {
		let (model, _) = <T as pallet_inference_requests::Config>::BenchmarkHelper::model(0, width);
		<T as pallet_inference_requests::Config>::BenchmarkHelper::node(model, 0);
		model
	}

	fn feed(index: u32, values: u32) -> FeedId {
		let owner: T::AccountId = account("feed-owner", index, 0);
		Self::fund(&owner);
		let feed = pallet_data_feeds::NextFeedId::<T>::get();
		pallet_data_feeds::Pallet::<T>::register_feed(
			RawOrigin::Signed(owner).into(),
			BoundedVec::truncate_from(b"BTC/USD".to_vec()),
			BoundedVec::truncate_from(b"benchmark".to_vec()),
			2,
			<T as pallet_data_feeds::Config>::MinRoundLength::get(),
			1,
			Perbill::from_percent(10),
		)
		.expect("registers the feed");
		let history = (0..values).map(|round| RoundValue {
			round,
			value: 6_400_000 + round as i128,
			submissions: 1,
			at: 0u32.into(),
		});
		pallet_data_feeds::History::<T>::insert(feed, BoundedVec::truncate_from(history.collect::<vec::Vec<_>>()));
		feed
	}

	fn fund(who: &T::AccountId) {
		// Plenty for a feed's deposit or a workflow's budget, far from the issuance's limit.
		let plenty = <T as pallet_data_feeds::Config>::FeedDeposit::get().saturating_mul(1_000_000u32.into());
		<T as pallet_data_feeds::Config>::Currency::set_balance(who, plenty);
	}
}
