//! The data node's off-chain worker: for each feed its `feed` keys serve, once per round,
//! fetches the value from the HTTP source configured on this node and submits it, signed.
//!
//! Sources are the operator's, kept in the node's persistent off-chain storage under
//! [`source_storage_key`] (the node's `--data-source FEED=URL#PATH` flag writes them at start;
//! `offchain_localStorageSet` changes them while it runs). A refused or malformed answer is
//! logged, counted in [`FETCH_ERRORS_KEY`] (the node's `veriml_feed_fetch_errors` metric) and
//! nothing is sent: a missing value costs a strike, a wrong one could cost the bond.

use crate::{json, pallet::*, BondedNodes, FeedId, RoundId};
use alloc::{collections::BTreeMap, vec::Vec};
use codec::{Decode, Encode};
use frame_system::{offchain::Account, pallet_prelude::BlockNumberFor};
use sp_runtime::{
	offchain::{http, storage::StorageValueRef, Duration},
	traits::Saturating,
};
use veriml_offchain::{run_with_keys, send_signed, NonceTracker, NONCE};

/// Logging target of data nodes' work: `-l veriml::feeds=debug`.
pub const LOG_TARGET: &str = "veriml::feeds";

const WORKER_LOCK: &[u8] = b"veriml/feeds/worker-lock";
const SENT: &[u8] = b"veriml/feeds/sent";
const SOURCE: &[u8] = b"veriml/feeds/source";

/// The key of the data node's tally of failed fetches ([`FetchErrors`]) in its persistent
/// off-chain storage, which the node reports as a metric.
pub const FETCH_ERRORS_KEY: &[u8] = b"veriml/feeds/fetch-errors";

/// Longest HTTP answer read, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How long one fetch may take.
const FETCH_TIMEOUT_MS: u64 = 5_000;
/// Blocks after which a submission that has not landed counts as dropped.
const RESUBMIT_AFTER: u32 = 3;

/// Where a node gets a feed's value: an HTTP(S) URL answering JSON, and the path of the
/// number in it (see [`json`]).
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug)]
pub struct FeedSource {
	/// `http://…` or `https://…`.
	pub url: Vec<u8>,
	/// `key.key[index]…`.
	pub json_path: Vec<u8>,
}

/// The key of `feed`'s source in the node's persistent off-chain storage (the value is a
/// SCALE-encoded [`FeedSource`]).
pub fn source_storage_key(feed: FeedId) -> Vec<u8> {
	(SOURCE, feed).encode()
}

/// Why a node has no value to submit.
#[derive(Clone, PartialEq, Eq, Debug)]
enum FetchError {
	NoSource,
	BadSource,
	Http(http::Error),
	BodyRead(sp_runtime::offchain::HttpError),
	Status(u16),
	TooLarge,
	Value(json::ValueError),
}

/// The kinds of failed fetch a data node counts.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum FetchErrorKind {
	/// No source is configured for the feed on this node.
	NoSource,
	/// The configured source is not a URL and a JSON path in UTF-8.
	BadSource,
	/// The request could not be sent or got no answer in time.
	Http,
	/// The answer's body could not be read.
	Body,
	/// The server answered with a status other than 200.
	Status,
	/// The answer was longer than [`MAX_RESPONSE_BYTES`].
	TooLarge,
	/// The answer held no number at the JSON path.
	Value,
}

impl FetchErrorKind {
	/// The kind's name, as the metric labels it.
	pub fn name(self) -> &'static str {
		match self {
			Self::NoSource => "no_source",
			Self::BadSource => "bad_source",
			Self::Http => "http",
			Self::Body => "body",
			Self::Status => "status",
			Self::TooLarge => "too_large",
			Self::Value => "value",
		}
	}
}

impl FetchError {
	fn kind(&self) -> FetchErrorKind {
		match self {
			Self::NoSource => FetchErrorKind::NoSource,
			Self::BadSource => FetchErrorKind::BadSource,
			Self::Http(_) => FetchErrorKind::Http,
			Self::BodyRead(_) => FetchErrorKind::Body,
			Self::Status(_) => FetchErrorKind::Status,
			Self::TooLarge => FetchErrorKind::TooLarge,
			Self::Value(_) => FetchErrorKind::Value,
		}
	}
}

/// A data node's failed fetches by feed and kind since its off-chain database was made (one
/// entry per feed it serves and kind seen), under [`FETCH_ERRORS_KEY`].
#[derive(Encode, Decode, Clone, Default, PartialEq, Eq, Debug)]
pub struct FetchErrors(pub BTreeMap<(FeedId, FetchErrorKind), u64>);

impl FetchErrors {
	/// Counts one failed fetch of `feed` (the worker's lock keeps this read-modify-write alone).
	fn count(feed: FeedId, kind: FetchErrorKind) {
		let stored = StorageValueRef::persistent(FETCH_ERRORS_KEY);
		let mut tally = stored.get::<FetchErrors>().ok().flatten().unwrap_or_default();
		let count = tally.0.entry((feed, kind)).or_default();
		*count = count.saturating_add(1);
		stored.set(&tally);
	}
}

impl<T: Config> Pallet<T> {
	pub(crate) fn run_offchain_worker(now: BlockNumberFor<T>) {
		// Not a data node without a `feed` key in the keystore.
		run_with_keys::<T, T::AuthorityId>(WORKER_LOCK, 10, 60_000, LOG_TARGET, now, |accounts| {
			for account in &accounts {
				Self::submit_for(now, account);
			}
		});
	}

	fn submit_for(now: BlockNumberFor<T>, account: &Account<T>) {
		let node = &account.id;
		let Some(operator) = T::Nodes::operator(node) else {
			log::debug!(target: LOG_TARGET, "feed key {node:?} is not a registered data node");
			return;
		};
		if !T::Nodes::is_active(node) {
			log::debug!(target: LOG_TARGET, "data node {node:?} is suspended or leaving: submitting nothing");
			return;
		}
		let nonces = NonceTracker::<T>::load(NONCE, node, now, RESUBMIT_AFTER.into());
		// The transaction lands in a later block: aim at the round of the next block.
		let next_block = now.saturating_add(1u32.into());
		for feed in T::Nodes::services(node) {
			let Some(info) = Feeds::<T>::get(feed) else { continue };
			if !Self::approved(feed, &operator) {
				log::debug!(target: LOG_TARGET, "feed {feed}: its owner no longer approves this node's operator");
				continue;
			}
			let round = Self::round_of(next_block, info.round_length);
			let submitted = Submissions::<T>::get(feed)
				.is_some_and(|(open, values)| open == round && values.iter().any(|(who, _)| who == node));
			let marker_key = (SENT, node, feed).encode();
			let marker = StorageValueRef::persistent(&marker_key);
			let sent_for = marker.get::<RoundId>().ok().flatten();
			if submitted || sent_for == Some(round) {
				continue;
			}
			let fetched = Self::fetch(feed, info.decimals);
			if let Err(error) = &fetched {
				FetchErrors::count(feed, error.kind());
			}
			let value = match fetched {
				Ok(value) => value,
				Err(FetchError::NoSource) => {
					log::warn!(
						target: LOG_TARGET,
						"feed {feed}: no source configured on this node; start it with --data-source {feed}=URL#JSON.PATH"
					);
					continue;
				},
				Err(error) => {
					log::warn!(target: LOG_TARGET, "feed {feed} round {round}: no value: {error:?}");
					continue;
				},
			};
			let call = Call::<T>::submit { feed, round, value };
			let nonce = nonces.claim();
			match send_signed::<T, T::AuthorityId, _>(call, account, nonce) {
				Ok(()) => {
					log::info!(target: LOG_TARGET, "feed {feed} round {round}: submitted {value}");
					marker.set(&round);
				},
				Err(why) => {
					nonces.give_back(nonce);
					log::warn!(target: LOG_TARGET, "feed {feed}: the value was not sent: {why:?}");
				},
			}
		}
	}

	/// The value of `feed` at its source, in units of 10^-`decimals`.
	fn fetch(feed: FeedId, decimals: u8) -> Result<i128, FetchError> {
		let source = StorageValueRef::persistent(&source_storage_key(feed))
			.get::<FeedSource>()
			.map_err(|_| FetchError::BadSource)?
			.ok_or(FetchError::NoSource)?;
		let url = core::str::from_utf8(&source.url).map_err(|_| FetchError::BadSource)?;
		let path = core::str::from_utf8(&source.json_path).map_err(|_| FetchError::BadSource)?;
		let deadline = sp_io::offchain::timestamp().add(Duration::from_millis(FETCH_TIMEOUT_MS));
		let pending = http::Request::get(url)
			.add_header("Accept", "application/json")
			.deadline(deadline)
			.send()
			.map_err(|_| FetchError::Http(http::Error::IoError))?;
		let response = pending
			.try_wait(deadline)
			.map_err(|_| FetchError::Http(http::Error::DeadlineReached))?
			.map_err(FetchError::Http)?;
		if response.code != 200 {
			return Err(FetchError::Status(response.code));
		}
		let mut body = Vec::new();
		let mut chunks = response.body();
		for chunk in &mut chunks {
			body.push(chunk);
			if body.len() > MAX_RESPONSE_BYTES {
				return Err(FetchError::TooLarge);
			}
		}
		if let Some(error) = chunks.error() {
			return Err(FetchError::BodyRead(*error));
		}
		json::extract(&body, path, decimals).map_err(FetchError::Value)
	}
}
