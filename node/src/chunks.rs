//! The stored chunks a node reads (the content store's chunks, by their blake2-256): its
//! database's indexed transactions, then the chunks it fetched from its peers and keeps in its
//! off-chain database.
//!
//! A node that synced from a warp proof, or prunes block bodies, lacks the chunks of items
//! stored in blocks it did not keep. With `--ipfs-server` (the node's bitswap, client and
//! server) it fetches them from its peers (storage nodes keep every item): the chunks of every
//! model registered from the content store as soon as a new best block shows one it lacks
//! ([`fetch_stored_models`]), and whatever chunks a runtime call still needs when it runs the
//! model (that call waits for them, at most [`FETCH_ON_DEMAND`]). Bitswap hands over only bytes
//! that hash to the requested CID, and the engine checks each chunk against the hashes in state
//! again: what a peer sends never changes a verdict, it only decides whether the node can run
//! the model at all.

use crate::service::FullClient;
use futures::StreamExt;
use sc_client_api::{Backend, BlockBackend, BlockchainEvents};
use sc_network_bitswap::{BitswapHandle, Cid};
use sp_api::{ApiExt, ProvideRuntimeApi};
use sp_core::{offchain::OffchainStorage, H256};
use std::{
	collections::{BTreeSet, HashMap},
	sync::{Arc, Mutex, OnceLock},
	time::{Duration, Instant},
};
use veriml_primitives::{content::chunk_cid, AccountId, Balance, BlockNumber};
use veriml_runtime::opaque::Block;

/// The longest a runtime call waits for the chunks of a model it runs that the node lacks.
pub const FETCH_ON_DEMAND: Duration = Duration::from_secs(30);

/// The longest one fetch ahead of need waits for the chunks of the stored models.
const FETCH_AHEAD: Duration = Duration::from_secs(120);

/// The shortest time between two looks at the stored models (a look is one runtime call).
const LOOK_EVERY: Duration = Duration::from_secs(6);

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

	/// Removes every fetched chunk that is not in `wanted`; returns how many.
	fn keep_only(&mut self, wanted: &BTreeSet<H256>) -> usize {
		let stale: Vec<H256> = self.kept.difference(wanted).copied().collect();
		for hash in &stale {
			self.db.remove(FETCHED_PREFIX, hash.as_bytes());
			self.kept.remove(hash);
		}
		if !stale.is_empty() {
			self.save_index();
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
}

impl NodeChunks {
	/// The chunks of `client`'s database and of its off-chain database `offchain` (none: the
	/// node keeps no fetched chunks and fetches none).
	pub fn new(client: Arc<FullClient>, offchain: Option<OffchainDb>) -> Self {
		Self { client, fetched: offchain.map(|db| Mutex::new(Fetched::open(db))), network: OnceLock::new() }
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

	/// [`Self::fetch`] from a thread that is not the network's: runs it on the node's task
	/// executor and waits for it.
	fn fetch_blocking(&self, hashes: Vec<H256>, timeout: Duration) -> Vec<(H256, Vec<u8>)> {
		let Some((bitswap, spawner)) = self.network.get() else { return Vec::new() };
		if hashes.is_empty() || self.fetched.is_none() {
			return Vec::new();
		}
		let (sender, receiver) = std::sync::mpsc::channel();
		let bitswap = bitswap.clone();
		spawner.spawn("veriml-fetch-chunks", Some("veriml"), async move {
			let _ = sender.send(fetch_with(&bitswap, &hashes, timeout).await);
		});
		let got = receiver.recv_timeout(timeout + Duration::from_secs(1)).unwrap_or_default();
		self.keep(&got);
		got
	}

	/// Looks at the stored models of best block `at`: fetches the chunks of theirs that the
	/// node lacks and forgets fetched chunks that no stored model has any more.
	async fn fetch_ahead(&self, at: H256) {
		use pallet_model_registry::runtime_api::ModelsApi;
		type Api = dyn ModelsApi<Block, AccountId, Balance, BlockNumber>;
		let api = self.client.runtime_api();
		if !matches!(api.api_version::<Api>(at), Ok(Some(version)) if version >= 2) {
			return;
		}
		let models = match api.stored_models(at) {
			Ok(models) => models,
			Err(error) => {
				log::warn!(target: LOG_TARGET, "cannot read the stored models at {at:?}: {error}");
				return;
			},
		};
		let wanted: BTreeSet<H256> = models.iter().flat_map(|model| model.chunks.iter().copied()).collect();
		if let Some(Ok(mut fetched)) = self.fetched.as_ref().map(Mutex::lock) {
			let forgotten = fetched.keep_only(&wanted);
			if forgotten > 0 {
				log::info!(target: LOG_TARGET, "forgot {forgotten} fetched chunks that no stored model has any more");
			}
		}
		// A model at a time: at most one model's bytes (40 MiB) in memory.
		for model in models {
			let missing: Vec<H256> = model.chunks.into_iter().filter(|hash| !self.holds(hash)).collect();
			if missing.is_empty() {
				continue;
			}
			let started = Instant::now();
			let asked = missing.len();
			let got = self.fetch(missing, FETCH_AHEAD).await;
			log_fetch("ahead of need", asked, &got, started);
		}
	}
}

impl veriml_content_interface::ChunkSource for NodeChunks {
	/// What the node keeps, never fetched: a storage node's proofs show what it holds.
	fn chunk(&self, hash: &H256) -> Option<Vec<u8>> {
		self.client.indexed_transaction(*hash).ok().flatten().or_else(|| self.fetched_chunk(hash))
	}

	/// What the node keeps, and what it lacks fetched from its peers at once.
	fn chunks(&self, hashes: &[H256]) -> Vec<Option<Vec<u8>>> {
		let mut kept: Vec<Option<Vec<u8>>> = hashes.iter().map(|hash| self.chunk(hash)).collect();
		let missing: Vec<H256> =
			hashes.iter().zip(&kept).filter(|(_, kept)| kept.is_none()).map(|(hash, _)| *hash).collect();
		if missing.is_empty() || self.network.get().is_none() || self.fetched.is_none() {
			return kept;
		}
		let started = Instant::now();
		let asked = missing.len();
		let got = self.fetch_blocking(missing, FETCH_ON_DEMAND);
		log_fetch("for a runtime call", asked, &got, started);
		let mut got: HashMap<H256, Vec<u8>> = got.into_iter().collect();
		for (hash, slot) in hashes.iter().zip(kept.iter_mut()) {
			if slot.is_none() {
				*slot = got.remove(hash);
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

fn log_fetch(why: &str, asked: usize, got: &[(H256, Vec<u8>)], started: Instant) {
	let bytes: usize = got.iter().map(|(_, bytes)| bytes.len()).sum();
	let seconds = started.elapsed().as_secs_f64();
	if got.len() == asked {
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
			got.len(),
			seconds * 1e3,
		);
	}
}

/// Fetches the chunks of every stored model that the node lacks, looking at each new best
/// block (at most every [`LOOK_EVERY`]): the node holds a model's bytes before a request
/// for it reaches a block.
pub async fn fetch_stored_models(client: Arc<FullClient>, chunks: Arc<NodeChunks>) {
	let mut imports = client.import_notification_stream();
	let mut last_look: Option<Instant> = None;
	while let Some(imported) = imports.next().await {
		if !imported.is_new_best || last_look.is_some_and(|at| at.elapsed() < LOOK_EVERY) {
			continue;
		}
		last_look = Some(Instant::now());
		chunks.fetch_ahead(imported.hash).await;
	}
}
