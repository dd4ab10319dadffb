//! The pallets whose FRAME benchmarks `veriml-node benchmark pallet` runs.

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, BaselineBench::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_sudo, Sudo]
	[pallet_model_registry, Models]
	[pallet_bonded_nodes, InferenceNodes]
	[pallet_bonded_nodes, DataNodes]
	[pallet_bonded_nodes, StorageNodes]
	[pallet_data_feeds, Feeds]
	[pallet_verification, Verification]
	[pallet_inference_requests, Inference]
	[pallet_workflows, Workflows]
	[pallet_content_store, ContentStore]
);

// The benchmark pallets of `frame_system` and of the baseline need nothing from the runtime.
impl frame_system_benchmarking::Config for crate::Runtime {}
impl frame_benchmarking::baseline::Config for crate::Runtime {}
