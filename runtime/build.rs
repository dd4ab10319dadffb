fn main() {
	// The node embeds this wasm blob as the genesis runtime. `SKIP_WASM_BUILD=1` skips it for
	// pallet and native-only test runs.
	#[cfg(feature = "std")]
	substrate_wasm_builder::WasmBuilder::build_using_defaults();
}
