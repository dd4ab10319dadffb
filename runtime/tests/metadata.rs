//! What polkadot.js shows: every pallet's calls, events and errors carry documentation.

use frame_support::__private::metadata::RuntimeMetadataPrefixed;
use veriml_runtime::Runtime;

#[test]
fn every_call_event_and_error_is_documented() {
	// In externalities: a storage parameter's constant (`verification.receiptRetention`) is read
	// from state.
	let RuntimeMetadataPrefixed(_, metadata) = sp_io::TestExternalities::default().execute_with(Runtime::metadata);
	let frame_support::__private::metadata::RuntimeMetadata::V14(metadata) = metadata else {
		panic!("Runtime::metadata() is V14");
	};
	let mut undocumented = Vec::new();
	let mut checked = 0;
	for pallet in &metadata.pallets {
		for (kind, ty) in [
			("calls", &pallet.calls.as_ref().map(|c| c.ty)),
			("events", &pallet.event.as_ref().map(|e| e.ty)),
			("errors", &pallet.error.as_ref().map(|e| e.ty)),
		] {
			let Some(ty) = ty else { continue };
			let ty = metadata.types.resolve(ty.id).expect("type in registry");
			if let scale_info::TypeDef::Variant(variants) = &ty.type_def {
				for variant in &variants.variants {
					checked += 1;
					if variant.docs.is_empty() {
						undocumented.push(format!("{}::{kind}::{}", pallet.name, variant.name));
					}
				}
			}
		}
	}
	assert!(checked > 50, "only {checked} calls, events and errors found in the metadata");
	assert!(undocumented.is_empty(), "undocumented: {undocumented:?}");
}
