//! veriml's metrics on the node's Prometheus endpoint (`--prometheus-port`, 9615), beside
//! Substrate's: the engine's work as it happens ([`EngineMetrics`], the engine's
//! [`Observer`](veriml_engine::Observer)) and the chain's veriml events, the node's open
//! assignments and its data node's fetch errors, read as blocks are imported and finalised
//! ([`chain_metrics`]). docs/operators.md lists them with the alerts worth setting.

use codec::Decode;
use futures::StreamExt;
use sc_client_api::{BlockchainEvents, StorageProvider};
use sp_core::{offchain::OffchainStorage, storage::StorageKey};
use std::{
	collections::HashMap,
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc, Mutex,
	},
};
use substrate_prometheus_endpoint::{
	exponential_buckets, register, CounterVec, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, Opts,
	PrometheusError, Registry, F64, U64,
};
use veriml_engine::observer::{Call, Work};
use veriml_inference_interface::Lane;
use veriml_inference_primitives::{EngineGuest, ModelHash, RunError};
use veriml_runtime::{opaque::Block, RuntimeEvent};

/// Models that get a label of their own in the per-model series; later ones are counted under
/// `model="other"`, so a chain with many models cannot grow the endpoint without bound.
pub const MAX_MODEL_LABELS: usize = 64;

/// Buckets of engine call times: 1 ms to about 65 s.
fn seconds_buckets() -> Result<Vec<f64>, PrometheusError> {
	exponential_buckets(0.001, 2.0, 17)
}

/// The engine's work: calls by kind, lane and outcome, their time and fuel, the prepared-model
/// and compiled-code caches, and the consensus lane's time per imported block.
pub struct EngineMetrics {
	calls: CounterVec<U64>,
	call_seconds: HistogramVec,
	fuel: CounterVec<U64>,
	model_runs: CounterVec<U64>,
	model_seconds: CounterVec<F64>,
	model_labels: Mutex<HashMap<ModelHash, String>>,
	prepared_cache: CounterVec<U64>,
	guest_loads: CounterVec<U64>,
	guest_load_seconds: GaugeVec<F64>,
	block_seconds: Histogram,
	/// Consensus-lane engine time since the last imported block, in nanoseconds.
	consensus_nanos: AtomicU64,
}

impl EngineMetrics {
	/// Registers the engine's series with `registry`.
	pub fn register(registry: &Registry) -> Result<Arc<Self>, PrometheusError> {
		Ok(Arc::new(Self {
			calls: register(
				CounterVec::new(
					Opts::new(
						"veriml_engine_calls_total",
						"Engine calls by work (inspect, run), lane (consensus, offchain) and outcome \
						 (ok, a verdict's EngineError, or local_<LocalFailure>)",
					),
					&["work", "lane", "outcome"],
				)?,
				registry,
			)?,
			call_seconds: register(
				HistogramVec::new(
					HistogramOpts::new(
						"veriml_engine_call_seconds",
						"Wall-clock time of engine calls, preparing the model included",
					)
					.buckets(seconds_buckets()?),
					&["work", "lane"],
				)?,
				registry,
			)?,
			fuel: register(
				CounterVec::new(
					Opts::new("veriml_engine_fuel_total", "Fuel used by the engine calls that ended with a result"),
					&["work", "lane"],
				)?,
				registry,
			)?,
			model_runs: register(
				CounterVec::new(
					Opts::new(
						"veriml_engine_model_runs_total",
						"Model runs by model (content hash; the first 64 models, then \"other\")",
					),
					&["model"],
				)?,
				registry,
			)?,
			model_seconds: register(
				CounterVec::new(
					Opts::new("veriml_engine_model_run_seconds_total", "Time of model runs by model"),
					&["model"],
				)?,
				registry,
			)?,
			model_labels: Mutex::new(HashMap::new()),
			prepared_cache: register(
				CounterVec::new(
					Opts::new(
						"veriml_engine_prepared_cache_total",
						"Runs that found their model prepared (hit) or prepared it first (miss)",
					),
					&["lane", "result"],
				)?,
				registry,
			)?,
			guest_loads: register(
				CounterVec::new(
					Opts::new(
						"veriml_engine_guest_loads_total",
						"Engine guests made ready: machine code from the compiled-code cache or the compiler, \
						 and whether the guest became ready",
					),
					&["source", "ready"],
				)?,
				registry,
			)?,
			guest_load_seconds: register(
				GaugeVec::new(
					Opts::new("veriml_engine_guest_load_seconds", "Time the last load of each engine version took"),
					&["engine_version"],
				)?,
				registry,
			)?,
			block_seconds: register(
				Histogram::with_opts(
					HistogramOpts::new(
						"veriml_block_engine_seconds",
						"Engine time on the consensus lane per imported block: verifying its results and \
						 checking its models (authoring included for the node's own blocks)",
					)
					.buckets(seconds_buckets()?),
				)?,
				registry,
			)?,
			consensus_nanos: AtomicU64::new(0),
		}))
	}

	/// The label of `model` in the per-model series.
	fn model_label(&self, model: &ModelHash) -> String {
		let Ok(mut labels) = self.model_labels.lock() else { return "other".into() };
		if let Some(label) = labels.get(model) {
			return label.clone();
		}
		if labels.len() >= MAX_MODEL_LABELS {
			return "other".into();
		}
		let label = format!("{model:?}");
		labels.insert(*model, label.clone());
		label
	}

	/// Observes the consensus lane's time since the last imported block as that block's.
	fn block_imported(&self) {
		let nanos = self.consensus_nanos.swap(0, Ordering::Relaxed);
		self.block_seconds.observe(nanos as f64 / 1e9);
	}
}

fn lane_label(lane: Lane) -> &'static str {
	match lane {
		Lane::Consensus => "consensus",
		Lane::Offchain => "offchain",
	}
}

/// The outcome label of an engine call: `ok`, the verdict's name, or `local_` and the local
/// failure's name (both enums of unit variants, so the label set is fixed).
fn outcome_label(outcome: &Result<u64, &RunError>) -> String {
	match outcome {
		Ok(_) => "ok".into(),
		Err(RunError::Verdict(error)) => format!("{error:?}"),
		Err(RunError::Local(failure)) => format!("local_{failure:?}"),
	}
}

impl veriml_engine::Observer for EngineMetrics {
	fn call(&self, call: &Call<'_>) {
		let work = match call.work {
			Work::Inspect => "inspect",
			Work::Run => "run",
		};
		let lane = lane_label(call.lane);
		self.calls.with_label_values(&[work, lane, &outcome_label(&call.outcome)]).inc();
		self.call_seconds.with_label_values(&[work, lane]).observe(call.seconds);
		if let Ok(fuel) = call.outcome {
			self.fuel.with_label_values(&[work, lane]).inc_by(fuel);
		}
		if call.work == Work::Run {
			let model = self.model_label(&call.model);
			self.model_runs.with_label_values(&[&model]).inc();
			self.model_seconds.with_label_values(&[&model]).inc_by(call.seconds);
		}
		if call.lane == Lane::Consensus {
			self.consensus_nanos.fetch_add((call.seconds * 1e9) as u64, Ordering::Relaxed);
		}
	}

	fn prepared_cache(&self, lane: Lane, hit: bool) {
		self.prepared_cache.with_label_values(&[lane_label(lane), if hit { "hit" } else { "miss" }]).inc();
	}

	fn guest_loaded(&self, guest: &EngineGuest, from_compiled_cache: bool, ready: bool, seconds: f64) {
		let source = if from_compiled_cache { "compiled_cache" } else { "compiler" };
		self.guest_loads.with_label_values(&[source, if ready { "true" } else { "false" }]).inc();
		self.guest_load_seconds.with_label_values(&[&guest.version.to_string()]).set(seconds);
	}
}

/// What the chain tells about this node and the network, as blocks come.
struct ChainMetrics {
	events: CounterVec<U64>,
	undecodable: Gauge<U64>,
	assignments: Gauge<U64>,
	fetch_errors: GaugeVec<U64>,
	missing_chunks: Gauge<U64>,
}

impl ChainMetrics {
	fn register(registry: &Registry) -> Result<Self, PrometheusError> {
		Ok(Self {
			events: register(
				CounterVec::new(
					Opts::new(
						"veriml_chain_events_total",
						"Events of the finalised blocks by pallet and event, as polkadot.js names them \
						 (inference.Completed, inference.ResultRejected, inferenceNodes.Slashed, feeds.RoundWithoutValue, …)",
					),
					&["pallet", "event"],
				)?,
				registry,
			)?,
			undecodable: register(
				Gauge::new(
					"veriml_chain_events_undecodable_blocks",
					"Finalised blocks whose events this node's build could not decode (a runtime newer than the node)",
				)?,
				registry,
			)?,
			assignments: register(
				Gauge::new(
					"veriml_inference_assignments_open",
					"Requests assigned to this node's infr keys and not yet answered, at the best block: \
					 the inference node's off-chain backlog",
				)?,
				registry,
			)?,
			fetch_errors: register(
				GaugeVec::new(
					Opts::new(
						"veriml_feed_fetch_errors",
						"Failed fetches of this data node's feed sources since the off-chain database was made, \
						 by feed and kind",
					),
					&["feed", "kind"],
				)?,
				registry,
			)?,
			missing_chunks: register(
				Gauge::new(
					"veriml_storage_missing_chunks",
					"Challenges this storage node could not prove because its database lacks the chunk \
					 (pruned or never imported), since the off-chain database was made: each is a strike",
				)?,
				registry,
			)?,
		})
	}
}

/// `(pallet, event)` names of every runtime event by its two index bytes, from the runtime's
/// type information, in polkadot.js's spelling (the pallet's name in lower camel case).
fn event_names() -> HashMap<(u8, u8), (String, String)> {
	use scale_info::{TypeDef, TypeInfo};
	let mut names = HashMap::new();
	let TypeDef::Variant(pallets) = RuntimeEvent::type_info().type_def else { return names };
	for pallet in pallets.variants {
		let Some(field) = pallet.fields.first() else { continue };
		let TypeDef::Variant(events) = field.ty.type_info().type_def else { continue };
		let mut pallet_name = pallet.name.to_string();
		if let Some(first) = pallet_name.get_mut(0..1) {
			first.make_ascii_lowercase();
		}
		for event in events.variants {
			names.insert((pallet.index, event.index), (pallet_name.clone(), event.name.to_string()));
		}
	}
	names
}

/// The events of block `hash`, `None` where they do not decode with this node's runtime types.
fn block_events<C: StorageProvider<Block, crate::service::FullBackend>>(
	client: &C,
	hash: <Block as sp_runtime::traits::Block>::Hash,
) -> Option<Vec<frame_system::EventRecord<RuntimeEvent, sp_core::H256>>> {
	use frame_support::traits::PalletInfoAccess;
	// `system.events` (frame-system keeps the storage item itself private).
	let key = StorageKey(
		frame_support::storage::storage_prefix(veriml_runtime::System::name().as_bytes(), b"Events").to_vec(),
	);
	match client.storage(hash, &key) {
		Ok(Some(data)) => Decode::decode(&mut &data.0[..]).ok(),
		Ok(None) => Some(Vec::new()),
		Err(_) => None,
	}
}

/// How many requests are assigned to `nodes` at block `hash` and not answered yet, as the
/// runtime's `InferenceApi::assignments` lists them; `None` where the chain's runtime at `hash`
/// predates that method (version 4) or the call fails.
fn open_assignments(
	client: &crate::service::FullClient,
	hash: <Block as sp_runtime::traits::Block>::Hash,
	nodes: &[sp_core::sr25519::Public],
) -> Option<u64> {
	use pallet_inference_requests::runtime_api::InferenceApi;
	use sp_api::{ApiExt, ProvideRuntimeApi};
	use veriml_runtime::{AccountId, Balance, BlockNumber};
	let api = client.runtime_api();
	let listed = api
		.has_api_with::<dyn InferenceApi<Block, AccountId, Balance, BlockNumber>, _>(hash, |version| version >= 4)
		.ok()?;
	if !listed {
		return None;
	}
	nodes
		.iter()
		.map(|node| api.assignments(hash, AccountId::from(node.0)).map(|requests| requests.len() as u64).ok())
		.sum()
}

/// Registers veriml's series with `registry`, hands the engine its observer and spawns the
/// task that reads the chain's side as blocks are imported and finalised.
pub fn start(
	registry: &Registry,
	engine: &veriml_engine::Engine,
	client: Arc<crate::service::FullClient>,
	backend: Arc<crate::service::FullBackend>,
	keystore: sp_keystore::KeystorePtr,
	spawn: &sc_service::SpawnTaskHandle,
) -> Result<(), PrometheusError> {
	let engine_metrics = EngineMetrics::register(registry)?;
	if !engine.set_observer(engine_metrics.clone()) {
		log::warn!(target: "veriml", "the engine already reports to other metrics; its series stay empty");
	}
	let chain = ChainMetrics::register(registry)?;
	let names = event_names();
	spawn.spawn("veriml-metrics", Some("veriml"), async move {
		let mut imported = client.import_notification_stream();
		let mut finalized = client.finality_notification_stream();
		let mut undecodable = 0u64;
		loop {
			futures::select! {
				notification = imported.next() => {
					let Some(notification) = notification else { break };
					engine_metrics.block_imported();
					if notification.is_new_best {
						let nodes = keystore.sr25519_public_keys(pallet_inference_requests::KEY_TYPE);
						if let Some(open) = open_assignments(&client, notification.hash, &nodes) {
							chain.assignments.set(open);
						}
						report_offchain_tallies(&chain, &backend);
					}
				},
				notification = finalized.next() => {
					let Some(notification) = notification else { break };
					// The blocks finalised with it, oldest first, then it.
					for hash in notification.tree_route.iter().chain(std::iter::once(&notification.hash)) {
						let Some(events) = block_events(&*client, *hash) else {
							undecodable += 1;
							chain.undecodable.set(undecodable);
							continue;
						};
						for record in events {
							let encoded = codec::Encode::encode(&record.event);
							let (Some(&pallet), Some(&event)) = (encoded.first(), encoded.get(1)) else { continue };
							if let Some((pallet, event)) = names.get(&(pallet, event)) {
								chain.events.with_label_values(&[pallet, event]).inc();
							}
						}
					}
				},
			}
		}
	});
	Ok(())
}

/// Copies the tallies the off-chain workers keep (a data node's failed fetches, a storage
/// node's missing chunks) into the gauges.
fn report_offchain_tallies(chain: &ChainMetrics, backend: &crate::service::FullBackend) {
	use sc_client_api::Backend;
	let Some(storage) = backend.offchain_storage() else { return };
	let read = |key: &[u8]| storage.get(sp_core::offchain::STORAGE_PREFIX, key);
	if let Some(tally) = read(pallet_data_feeds::FETCH_ERRORS_KEY)
		.and_then(|raw| pallet_data_feeds::FetchErrors::decode(&mut &raw[..]).ok())
	{
		for ((feed, kind), count) in tally.0 {
			chain.fetch_errors.with_label_values(&[&feed.to_string(), kind.name()]).set(count);
		}
	}
	if let Some(missing) =
		read(pallet_storage_proofs::offchain::MISSING_CHUNKS_KEY).and_then(|raw| u64::decode(&mut &raw[..]).ok())
	{
		chain.missing_chunks.set(missing);
	}
}
