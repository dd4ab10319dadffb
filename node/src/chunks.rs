//! The stored chunks a node reads (the content store's chunks, by their blake2-256): its
//! database's indexed transactions, then the chunks it fetched from its peers and keeps in its
//! off-chain database.
//!
//! A node that synced from a warp proof, or prunes block bodies, lacks the chunks of items
//! stored in blocks it did not keep. With `--ipfs-server` (the node's bitswap, client and
//! server) it fetches them from its peers (storage nodes keep every item): the chunks of every
//! model registered from the content store as soon as its best block shows one it lacks
//! ([`fetch_stored_models`], looking every [`LOOK_EVERY`], also while it syncs), and whatever
//! chunks a block it imports or authors still needs when it runs the model (that call waits
//! for them, at most [`FETCH_ON_DEMAND`]; a chunk no peer sent is not asked for again on demand
//! for [`RETRY_AFTER`]). Off-chain calls (RPC, off-chain workers, transaction validation) never
//! fetch: nobody can make a node download by calling it. Bitswap hands over only bytes that
//! hash to the requested CID, and the engine checks each chunk against the hashes in state
//! again: what a peer sends never changes a verdict, it only decides whether the node can run
//! the model at all. Fetched chunks are kept, not served: the bitswap server serves the
//! database's indexed transactions only.

use crate::service::FullClient;
use sc_client_api::{Backend, BlockBackend, HeaderBackend};
use sc_network_bitswap::{BitswapHandle, Cid};
use sp_api::{ApiExt, ProvideRuntimeApi};
use sp_core::{offchain::OffchainStorage, H256};
use std::{
	collections::{BTreeMap, BTreeSet, HashMap},
	sync::{Arc, Mutex, OnceLock},
	time::{Duration, Instant},
};
use veriml_primitives::{content::chunk_cid, AccountId, Balance, BlockNumber};
use veriml_runtime::opaque::Block;

/// The longest a runtime call waits for the chunks of a model it runs that the node lacks.
pub const FETCH_ON_DEMAND: Duration = Duration::from_secs(30);

/// The longest one fetch ahead of need waits for the chunks of the stored models.
const FETCH_AHEAD: Duration = Duration::from_secs(120);

/// The time between two looks at the stored models (a look is two runtime calls).
pub const LOOK_EVERY: Duration = Duration::from_secs(6);

/// How long a chunk no peer sent is not asked for again on demand.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Where fetched chunks live in the off-chain database: under this prefix, by hash.
const FETCHED_PREFIX: &[u8] = b"veriml-fetched-chunks";

/// The key, under [`FETCHED_PREFIX`], of the list of fetched chunks (SCALE `Vec<H256>`).
const FETCHED_INDEX: &[u8] = b"index";

const LOG_TARGET: &str = "veriml::chunks";

type OffchainDb = <crate::service::FullBackend as Backend<Block>>::OffchainStorage;

/// The chunks fetched from peers, in the node's off-chain database, and the list of them.
struct Fetched {
	db: OffchainDb,
	kept: BTreeSet<H256>,
}

impl Fetched {
	fn open(db: OffchainDb) -> Self {
		let kept = db
			.get(FETCHED_PREFIX, FETCHED_INDEX)
			.and_then(|raw| <Vec<H256> as codec::Decode>::decode(&mut &raw[..]).ok())
			.unwrap_or_default();
		Self { db, kept: kept.into_iter().collect() }
	}

	fn get(&self, hash: &H256) -> Option<Vec<u8>> {
		self.kept.contains(hash).then(|| self.db.get(FETCHED_PREFIX, hash.as_bytes())).flatten()
	}

	fn save_index(&mut self) {
		let index = codec::Encode::encode(&self.kept.iter().collect::<Vec<_>>());
		self.db.set(FETCHED_PREFIX, FETCHED_INDEX, &index);
	}

	fn insert(&mut self, chunks: &[(H256, Vec<u8>)]) {
		for (hash, bytes) in chunks {
			self.db.set(FETCHED_PREFIX, hash.as_bytes(), bytes);
			self.kept.insert(*hash);
		}
		self.save_index();
	}

	/// Removes every fetched chunk that is not in `wanted`; returns how many. The list is
	/// saved first: a crash in between leaves chunks nobody lists (never listed chunks that are
	/// gone, which the node would take for kept).
	fn keep_only(&mut self, wanted: &BTreeSet<H256>) -> usize {
		let stale: Vec<H256> = self.kept.difference(wanted).copied().collect();
		if stale.is_empty() {
			return 0;
		}
		for hash in &stale {
			self.kept.remove(hash);
		}
		self.save_index();
		for hash in &stale {
			self.db.remove(FETCHED_PREFIX, hash.as_bytes());
		}
		stale.len()
	}
}

/// The chunks this node reads: see the module's documentation. Set as the process's
/// [`veriml_content_interface::ChunkSource`].
pub struct NodeChunks {
	client: Arc<FullClient>,
	fetched: Option<Mutex<Fetched>>,
	/// The node's bitswap and where to run its requests: set once the network is built, and
	/// only with `--ipfs-server`.
	network: OnceLock<(BitswapHandle, sc_service::SpawnTaskHandle)>,
	/// Chunks no peer sent on demand, and when: not asked for again before [`RETRY_AFTER`].
	unavailable: Mutex<BTreeMap<H256, Instant>>,
}

impl NodeChunks {
	/// The chunks of `client`'s database and of its off-chain database `offchain` (none: the
	/// node keeps no fetched chunks and fetches none).
	pub fn new(client: Arc<FullClient>, offchain: Option<OffchainDb>) -> Self {
		Self {
			client,
			fetched: offchain.map(|db| Mutex::new(Fetched::open(db))),
			network: OnceLock::new(),
			unavailable: Mutex::new(BTreeMap::new()),
		}
	}

	/// From now on, fetch missing chunks with `bitswap`, its requests run by `spawner`.
	pub fn connect(&self, bitswap: BitswapHandle, spawner: sc_service::SpawnTaskHandle) {
		let _ = self.network.set((bitswap, spawner));
	}

	/// Whether the node's database or its fetched chunks hold `hash` (without reading it).
	fn holds(&self, hash: &H256) -> bool {
		self.client.has_indexed_transaction(*hash).unwrap_or(false)
			|| self
				.fetched
				.as_ref()
				.is_some_and(|fetched| fetched.lock().is_ok_and(|fetched| fetched.kept.contains(hash)))
	}

	fn fetched_chunk(&self, hash: &H256) -> Option<Vec<u8>> {
		self.fetched.as_ref()?.lock().ok()?.get(hash)
	}

	fn keep(&self, chunks: &[(H256, Vec<u8>)]) {
		if let Some(Ok(mut fetched)) = self.fetched.as_ref().map(Mutex::lock) {
			fetched.insert(chunks);
		}
	}

	/// Fetches `hashes` from the node's peers, waiting at most `timeout`, and keeps what
	/// arrives; returns it. Nothing without `--ipfs-server` or an off-chain database.
	async fn fetch(&self, hashes: Vec<H256>, timeout: Duration) -> Vec<(H256, Vec<u8>)> {
		let Some((bitswap, _)) = self.network.get() else { return Vec::new() };
		if hashes.is_empty() || self.fetched.is_none() {
			return Vec::new();
		}
		let got = fetch_with(bitswap, &hashes, timeout).await;
		self.keep(&got);
		got
	}

	/// [`Self::fetch`] from a thread that is not one of the async runtime's workers (block
	/// import and authoring run on blocking threads): runs it on the node's task executor, which
	/// keeps what arrives also after this call stopped waiting, and waits for it.
	fn fetch_blocking(self: &Arc<Self>, hashes: Vec<H256>, timeout: Duration) -> Vec<(H256, Vec<u8>)> {
		let Some((_, spawner)) = self.network.get() else { return Vec::new() };
		let (sender, receiver) = std::sync::mpsc::channel();
		let this = self.clone();
		spawner.spawn("veriml-fetch-chunks", Some("veriml"), async move {
			let _ = sender.send(this.fetch(hashes, timeout).await);
		});
		receiver.recv_timeout(timeout + Duration::from_secs(1)).unwrap_or_default()
	}

	/// Of `hashes`, those not asked for on demand in vain within [`RETRY_AFTER`].
	fn worth_asking(&self, hashes: Vec<H256>) -> Vec<H256> {
		let Ok(mut unavailable) = self.unavailable.lock() else { return hashes };
		unavailable.retain(|_, since| since.elapsed() < RETRY_AFTER);
		hashes.into_iter().filter(|hash| !unavailable.contains_key(hash)).collect()
	}

	fn mark_unavailable(&self, hashes: impl Iterator<Item = H256>) {
		if let Ok(mut unavailable) = self.unavailable.lock() {
			let now = Instant::now();
			unavailable.extend(hashes.map(|hash| (hash, now)));
		}
	}

	/// The stored models of block `at`, if its runtime has `ModelsApi::stored_models`.
	fn stored_models(&self, at: H256) -> Option<Vec<pallet_model_registry::StoredModelChunks>> {
		use pallet_model_registry::runtime_api::ModelsApi;
		type Api = dyn ModelsApi<Block, AccountId, Balance, BlockNumber>;
		let api = self.client.runtime_api();
		if !matches!(api.api_version::<Api>(at), Ok(Some(version)) if version >= 2) {
			return None;
		}
		api.stored_models(at)
			.inspect_err(|error| log::warn!(target: LOG_TARGET, "cannot read the stored models at {at:?}: {error}"))
			.ok()
	}

	/// Looks at the stored models of the best block `best` and the finalised block
	/// `finalized`: fetches the chunks of the best block's that the node lacks, and forgets
	/// fetched chunks that neither block's models have (a chunk the best block no longer has
	/// may still be the finalised block's, and the other way round).
	async fn fetch_ahead(&self, best: H256, finalized: H256) {
		let Some(models) = self.stored_models(best) else { return };
		// Forget nothing on what the best block alone says: the finalised block's models must be
		// known too.
		let settled = if finalized == best { Some(Vec::new()) } else { self.stored_models(finalized) };
		if let (Some(settled), Some(Ok(mut fetched))) = (settled, self.fetched.as_ref().map(Mutex::lock)) {
			let wanted: BTreeSet<H256> =
				models.iter().chain(&settled).flat_map(|model| model.chunks.iter().copied()).collect();
			let forgotten = fetched.keep_only(&wanted);
			if forgotten > 0 {
				log::info!(target: LOG_TARGET, "forgot {forgotten} fetched chunks that no stored model has any more");
			}
		}
		// A model at a time: at most one model's bytes (104 MiB) in memory; a chunk a model
		// lists twice is asked for once.
		for model in models {
			let missing: Vec<H256> = model
				.chunks
				.into_iter()
				.collect::<BTreeSet<_>>()
				.into_iter()
				.filter(|hash| !self.holds(hash))
				.collect();
			if missing.is_empty() {
				continue;
			}
			let started = Instant::now();
			let asked = missing.len();
			let got = self.fetch(missing, FETCH_AHEAD).await;
			log_fetch("ahead of need", asked, got.iter().map(|(_, bytes)| bytes.len()), started);
		}
	}
}

/// The process's chunk source: [`NodeChunks`], shared with the task that fetches ahead.
pub struct ProcessChunks(pub Arc<NodeChunks>);

impl veriml_content_interface::ChunkSource for ProcessChunks {
	/// What the node keeps, never fetched: a storage node's proofs show what it holds.
	fn chunk(&self, hash: &H256) -> Option<Vec<u8>> {
		self.0.client.indexed_transaction(*hash).ok().flatten().or_else(|| self.0.fetched_chunk(hash))
	}

	/// What the node keeps; in a block's import or authoring, what it lacks fetched from its
	/// peers at once.
	fn chunks(&self, hashes: &[H256]) -> Vec<Option<Vec<u8>>> {
		let mut kept: Vec<Option<Vec<u8>>> = hashes.iter().map(|hash| self.chunk(hash)).collect();
		let consensus = veriml_inference_interface::current_lane() == veriml_inference_interface::Lane::Consensus;
		if !consensus || self.0.network.get().is_none() || self.0.fetched.is_none() {
			return kept;
		}
		let missing: BTreeSet<H256> =
			hashes.iter().zip(&kept).filter(|(_, kept)| kept.is_none()).map(|(hash, _)| *hash).collect();
		let missing = self.0.worth_asking(missing.into_iter().collect());
		if missing.is_empty() {
			return kept;
		}
		let started = Instant::now();
		let asked = missing.clone();
		let got: HashMap<H256, Vec<u8>> = self.0.fetch_blocking(missing, FETCH_ON_DEMAND).into_iter().collect();
		log_fetch("for a block", asked.len(), got.values().map(Vec::len), started);
		self.0.mark_unavailable(asked.into_iter().filter(|hash| !got.contains_key(hash)));
		for (hash, slot) in hashes.iter().zip(kept.iter_mut()) {
			if slot.is_none() {
				*slot = got.get(hash).cloned();
			}
		}
		kept
	}
}

/// The CID under which bitswap serves chunk `hash` (v1, raw, blake2b-256).
fn cid_of(hash: &H256) -> Option<Cid> {
	Cid::try_from(&chunk_cid(hash)[..]).ok()
}

/// Asks the peers of `bitswap` for chunks `hashes`; resolves with those that arrived within
/// `timeout`, each checked against its hash.
async fn fetch_with(bitswap: &BitswapHandle, hashes: &[H256], timeout: Duration) -> Vec<(H256, Vec<u8>)> {
	let wanted: HashMap<Cid, H256> = hashes.iter().filter_map(|hash| Some((cid_of(hash)?, *hash))).collect();
	let mut stream = match bitswap.request_stream(wanted.keys().copied().collect()) {
		Ok(stream) => stream,
		Err(error) => {
			log::warn!(target: LOG_TARGET, "cannot ask the node's peers for {} chunks: {error}", wanted.len());
			return Vec::new();
		},
	};
	let mut got = Vec::new();
	let receive = async {
		while let Some(item) = stream.recv().await {
			match item {
				Ok((cid, bytes)) => match wanted.get(&cid) {
					Some(hash) if sp_io::hashing::blake2_256(&bytes) == hash.0 => got.push((*hash, bytes.to_vec())),
					_ => log::warn!(target: LOG_TARGET, "a peer sent bytes that are not chunk {cid}"),
				},
				Err(error) => {
					log::warn!(target: LOG_TARGET, "fetching chunks stopped: {error}");
					break;
				},
			}
			if got.len() == wanted.len() {
				break;
			}
		}
	};
	let _ = tokio::time::timeout(timeout, receive).await;
	got
}

/// Logs a fetch of `asked` chunks of which those of lengths `got` arrived.
fn log_fetch(why: &str, asked: usize, got: impl Iterator<Item = usize>, started: Instant) {
	let (count, bytes) = got.fold((0, 0), |(count, bytes), len| (count + 1, bytes + len));
	let seconds = started.elapsed().as_secs_f64();
	if count == asked {
		log::info!(
			target: LOG_TARGET,
			"fetched {asked} chunks of stored models ({:.1} MiB) from peers {why} in {:.0} ms ({:.0} MiB/s)",
			bytes as f64 / (1 << 20) as f64,
			seconds * 1e3,
			bytes as f64 / (1 << 20) as f64 / seconds.max(1e-6),
		);
	} else {
		log::warn!(
			target: LOG_TARGET,
			"fetched {} of {asked} chunks of stored models from peers {why} in {:.0} ms; the rest are \
			 not on any peer reached (with --ipfs-server: storage nodes serve them)",
			count,
			seconds * 1e3,
		);
	}
}

/// Fetches the chunks of every stored model that the node lacks, looking at its best block
/// every [`LOOK_EVERY`] when it changed (also while the node syncs, when it announces no
/// imported block): the node holds a model's bytes before a block needs them.
pub async fn fetch_stored_models(client: Arc<FullClient>, chunks: Arc<NodeChunks>) {
	let mut looked_at = None;
	loop {
		tokio::time::sleep(LOOK_EVERY).await;
		let info = client.info();
		if looked_at == Some(info.best_hash) {
			continue;
		}
		looked_at = Some(info.best_hash);
		chunks.fetch_ahead(info.best_hash, info.finalized_hash).await;
	}
}
