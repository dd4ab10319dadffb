//! Models and nodes for the benchmarks, made the way users make them: models uploaded to and
//! registered in the model registry (checked by the node's engine), nodes bonded in the
//! inference nodes' instance of `pallet-bonded-nodes`. A runtime (or mock) with those pallets uses
//! [`RegistryAndBondedNodes`] as the `BenchmarkHelper` of both inference pallets.

use crate::Config;
use alloc::vec;
use core::marker::PhantomData;
use veriml_inference_primitives::{ModelHash, TensorSpec, H256};

/// Benchmark helper backed by the model registry and the inference nodes' instance `I` of
/// `pallet-bonded-nodes`.
pub struct RegistryAndBondedNodes<T, I = ()>(PhantomData<(T, I)>);

impl<T, I: 'static, Signature> pallet_bonded_nodes::BenchmarkHelper<ModelHash, T::AccountId, Signature>
	for RegistryAndBondedNodes<T, I>
where
	T: pallet_model_registry::Config,
	T::AccountId: From<sp_core::sr25519::Public>,
	Signature: From<sp_core::sr25519::Signature>,
{
	fn service(index: u32) -> ModelHash {
		pallet_model_registry::benchmark_helpers::register_relu::<T>(index, 16).0
	}

	fn signed_by_node(index: u32, message: &[u8]) -> (T::AccountId, Signature) {
		pallet_bonded_nodes::benchmarking::sr25519_node(index, message)
	}
}

impl<T, I: 'static> crate::BenchmarkHelper<T::AccountId> for RegistryAndBondedNodes<T, I>
where
	T: Config + pallet_model_registry::Config + pallet_bonded_nodes::Config<I, Service = ModelHash>,
{
	fn model(index: u32, width: u32) -> (ModelHash, TensorSpec) {
		pallet_model_registry::benchmark_helpers::register_relu::<T>(index, width)
	}

	fn sum_model(index: u32, width: u32) -> (ModelHash, TensorSpec) {
		pallet_model_registry::benchmark_helpers::register_sum::<T>(index, width)
	}

	fn node(model: ModelHash, index: u32) -> T::AccountId {
		pallet_bonded_nodes::benchmarking::register_node::<T, I>(index, vec![model])
	}

	fn upload(who: &T::AccountId, bytes: &[u8]) -> H256 {
		pallet_model_registry::benchmark_helpers::upload::<T>(who, bytes)
	}
}

impl<T, I: 'static> pallet_verification::BenchmarkHelper<crate::RequestId, T::AccountId>
	for RegistryAndBondedNodes<T, I>
where
	T: Config + pallet_model_registry::Config + pallet_bonded_nodes::Config<I, Service = ModelHash>,
{
	/// A request of a registered model served by two bonded nodes: the job of the one it is
	/// assigned to, and the other node.
	fn job(index: u32) -> (veriml_primitives::verification::Job<crate::RequestId, T::AccountId>, T::AccountId) {
		use frame_support::traits::fungible::Mutate;
		use sp_runtime::traits::Bounded;
		let (model, spec) = pallet_model_registry::benchmark_helpers::register_relu::<T>(index, 16);
		let first = pallet_bonded_nodes::benchmarking::register_node::<T, I>(2 * index, vec![model]);
		let second = pallet_bonded_nodes::benchmarking::register_node::<T, I>(2 * index + 1, vec![model]);
		let requester: T::AccountId = frame_benchmarking::account("requester", index, 0);
		<T as Config>::Currency::set_balance(&requester, crate::BalanceOf::<T>::max_value() / 4u32.into());
		let inputs = vec![veriml_inference_primitives::Tensor::from_f32(&[1, 16], &[0.0; 16])];
		let id = crate::Pallet::<T>::create_request(requester, model, inputs, crate::BalanceOf::<T>::max_value())
			.expect("a request of a registered model with a node");
		// Its node is drawn at the end of the block.
		<crate::Pallet<T> as frame_support::traits::Hooks<_>>::on_finalize(frame_system::Pallet::<T>::block_number());
		let request = crate::Requests::<T>::get(id).expect("open");
		let executor = request.assigned[0].clone();
		let other = if executor == first { second } else { first };
		(crate::Pallet::<T>::job_of(id, &request, vec![spec], executor), other)
	}
}
