//! Engine fuel is weighed at the price of the engine version that does the work: version 15
//! (subnormals flushed, calibrated with the adversarial set) at 350 ps a unit, every other
//! version at 400, and clients read the highest price as the constant `models.picosecondsPerFuel`.

use codec::Decode;
use frame_support::__private::metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
use veriml_inference_primitives::{EngineGuest, H256};
use veriml_runtime::{Models, Runtime};

/// The ref time `Models::fuel_weight` gives `fuel` with a guest of `version` named by the chain.
fn fuel_ref_time(version: u32, fuel: u64) -> u64 {
	pallet_model_registry::EngineGuest::<Runtime>::put(EngineGuest { hash: H256::repeat_byte(version as u8), version });
	Models::fuel_weight(fuel).ref_time()
}

#[test]
fn fuel_weighs_what_the_chains_engine_version_was_measured_at() {
	sp_io::TestExternalities::default().execute_with(|| {
		let read = Models::fuel_weight(0).ref_time();
		let fuel = 1_000_000_000;
		assert_eq!(fuel_ref_time(14, fuel) - read, 400 * fuel);
		// Version 15 flushes subnormals: its worst adversarial model runs at 175 ps a unit.
		assert_eq!(fuel_ref_time(15, fuel) - read, 350 * fuel);
		// A version this runtime has no measurement of is charged the highest price.
		assert_eq!(fuel_ref_time(16, fuel) - read, 400 * fuel);
		assert_eq!(fuel_ref_time(1, fuel) - read, 400 * fuel);
		// Bounds declared before a call reads the guest stay at the highest price.
		assert_eq!(Models::most_fuel_weight(fuel).ref_time() - read, 400 * fuel);
	});
}

#[test]
fn no_version_is_charged_more_than_the_highest_price() {
	use pallet_model_registry::FuelPrice;
	use veriml_runtime::configs::EngineFuelPrice;
	// Declared weights are at `most()`, actual ones at the version's price: never above.
	for version in 0..=veriml_inference_primitives::guest::ENGINE_VERSION + 1 {
		assert!(EngineFuelPrice::picoseconds(version) <= EngineFuelPrice::most(), "version {version}");
	}
	assert_eq!(EngineFuelPrice::picoseconds(u32::MAX), EngineFuelPrice::most());
}

#[test]
fn the_metadata_constant_is_the_highest_price() {
	let RuntimeMetadataPrefixed(_, metadata) = sp_io::TestExternalities::default().execute_with(Runtime::metadata);
	let RuntimeMetadata::V14(metadata) = metadata else { panic!("Runtime::metadata() is V14") };
	let models = metadata.pallets.iter().find(|p| p.name == "Models").expect("pallet Models");
	let constant = models.constants.iter().find(|c| c.name == "PicosecondsPerFuel").expect("PicosecondsPerFuel");
	assert_eq!(u64::decode(&mut &constant.value[..]).unwrap(), 400);
}

#[test]
fn the_registrys_engine_checks_each_fit_one_transaction() {
	use frame_support::dispatch::GetDispatchInfo;
	use pallet_model_registry::Call;
	use veriml_runtime::RuntimeCall;
	sp_io::TestExternalities::default().execute_with(|| {
		let max_extrinsic = Models::max_extrinsic_weight();
		let hash = H256::repeat_byte(1);
		let name = frame_support::BoundedVec::truncate_from(b"m".to_vec());
		let calls: [Call<Runtime>; 4] = [
			Call::register_model {
				model_hash: hash,
				name: name.clone(),
				version: 1,
				inputs: Default::default(),
				price_per_inference: 0,
			},
			Call::register_stored_model {
				root: hash,
				name: name.clone(),
				version: 1,
				inputs: Default::default(),
				price_per_inference: 0,
			},
			Call::register_decoder {
				model_hash: hash,
				name,
				version: 1,
				context_length: 2,
				tokenizer_hash: hash,
				price_per_token: 0,
			},
			// Measuring a model again: the costlier of a model in state (a decoder's two steps
			// cost what one model's check may) and one in the content store.
			Call::remeasure_model { model_hash: hash },
		];
		let weights: Vec<_> =
			calls.into_iter().map(|call| RuntimeCall::Models(call).get_dispatch_info().call_weight).collect();
		for weight in &weights {
			assert!(weight.all_lte(max_extrinsic), "{weight} of {max_extrinsic}");
		}
		assert!(weights[0].ref_time() <= weights[3].ref_time() && weights[1].ref_time() <= weights[3].ref_time());
	});
}
