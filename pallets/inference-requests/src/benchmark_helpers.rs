//! Models and nodes for the benchmarks, made the way users make them: models uploaded to and
//! registered in the model registry (checked by the node's engine), nodes bonded in the
//! inference-nodes pallet. A runtime (or mock) with those pallets uses
//! [`RegistryAndBondedNodes`] as the `BenchmarkHelper` of both inference pallets.

use crate::Config;
use alloc::vec;
use core::marker::PhantomData;
use frame_benchmarking::account;
use frame_support::{
	traits::{fungible::Mutate, Get},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::traits::Saturating;
use veriml_inference_primitives::{ModelHash, TensorSpec, H256};

/// Benchmark helper backed by the model registry and the inference-nodes pallet.
pub struct RegistryAndBondedNodes<T>(PhantomData<T>);

impl<T: pallet_model_registry::Config + pallet_inference_nodes::Config>
	pallet_inference_nodes::BenchmarkHelper for RegistryAndBondedNodes<T>
{
	fn model(index: u32) -> ModelHash {
		pallet_model_registry::benchmark_helpers::register_relu::<T>(index, 16).0
	}
}

impl<T: Config + pallet_model_registry::Config + pallet_inference_nodes::Config>
	crate::BenchmarkHelper<T::AccountId> for RegistryAndBondedNodes<T>
{
	fn model(index: u32, width: u32) -> (ModelHash, TensorSpec) {
		pallet_model_registry::benchmark_helpers::register_relu::<T>(index, width)
	}

	fn node(model: ModelHash, index: u32) -> T::AccountId {
		let operator: T::AccountId = account("operator", index, 0);
		let bond = <T as pallet_inference_nodes::Config>::MinBond::get();
		<T as pallet_inference_nodes::Config>::Currency::set_balance(
			&operator,
			bond.saturating_mul(10u32.into()),
		);
		let node: T::AccountId = account("node", index, 0);
		pallet_inference_nodes::Pallet::<T>::register(
			RawOrigin::Signed(operator).into(),
			node.clone(),
			BoundedVec::truncate_from(vec![model]),
			bond,
		)
		.expect("registers the node");
		node
	}

	fn upload(who: &T::AccountId, bytes: &[u8]) -> H256 {
		pallet_model_registry::benchmark_helpers::upload::<T>(who, bytes)
	}
}

