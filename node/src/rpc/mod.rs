//! The node's JSON-RPC methods beyond the ones `sc-service` provides: account nonces
//! (`system_accountNextIndex`) and fee queries (`payment_queryInfo`), which polkadot.js uses,
//! and veriml's own (`veriml_*`, see [`veriml`]).

pub mod veriml;

use std::sync::Arc;

use jsonrpsee::RpcModule;
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};
use veriml_runtime::{opaque::Block, AccountId, Balance, BlockNumber, Nonce};

/// What the RPC extensions need from the node.
pub struct FullDeps<C, P, BE: sc_client_api::Backend<Block>> {
	/// The client instance to use.
	pub client: Arc<C>,
	/// Transaction pool instance.
	pub pool: Arc<P>,
	/// The node's off-chain database, where the runtime's off-chain indexing keeps the
	/// archive of receipts and the Merkle Mountain Range's nodes (none without indexing).
	pub offchain_storage: Option<<BE as sc_client_api::Backend<Block>>::OffchainStorage>,
}

/// Builds the node's RPC extensions.
pub fn create_full<C, P, BE>(
	deps: FullDeps<C, P, BE>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
	C: ProvideRuntimeApi<Block>,
	C: HeaderBackend<Block> + HeaderMetadata<Block, Error = BlockChainError> + 'static,
	C: Send + Sync + 'static,
	C: sc_client_api::StorageProvider<Block, BE> + sc_client_api::ProofProvider<Block>,
	BE: sc_client_api::Backend<Block> + Send + Sync + 'static,
	C: sc_client_api::BlockchainEvents<Block> + sc_client_api::BlockBackend<Block>,
	C::Api: pallet_inference_requests::runtime_api::InferenceApi<Block, AccountId, Balance, BlockNumber>,
	C::Api: pallet_model_registry::runtime_api::ModelsApi<Block, AccountId, Balance, BlockNumber>,
	C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>,
	C::Api: pallet_transaction_payment_rpc::TransactionPaymentRuntimeApi<Block, Balance>,
	C::Api: BlockBuilder<Block>,
	P: TransactionPool + 'static,
{
	use pallet_transaction_payment_rpc::{TransactionPayment, TransactionPaymentApiServer};
	use substrate_frame_rpc_system::{System, SystemApiServer};
	use veriml::VerimlApiServer;

	let mut module = RpcModule::new(());
	let FullDeps { client, pool, offchain_storage } = deps;

	module.merge(System::new(client.clone(), pool).into_rpc())?;
	module.merge(TransactionPayment::new(client.clone()).into_rpc())?;
	module.merge(veriml::Veriml::<C, Block, BE>::new(client, offchain_storage).into_rpc())?;

	Ok(module)
}
