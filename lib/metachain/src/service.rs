//! The engine served as the generated [`MetachainService`]: FFI, gRPC and
//! JSON-RPC all call these.

use crate::engine::Engine;
use crate::VERSION;
use ain_rs::types::*;
use ain_rs::{MetachainService, RpcError};

impl MetachainService for Engine {
    fn meta_mint_block(&self, input: MetaMintBlockInput) -> Result<MetaMintBlockResult, RpcError> {
        Ok(self.mint(input)?)
    }

    fn meta_connect_block(
        &self,
        input: MetaConnectBlockInput,
    ) -> Result<MetaConnectBlockResult, RpcError> {
        Ok(self.connect(input)?)
    }

    fn meta_disconnect_block(
        &self,
        input: MetaDisconnectBlockInput,
    ) -> Result<MetaDisconnectBlockResult, RpcError> {
        Ok(self.disconnect(input)?)
    }

    fn meta_get_tip(&self, _input: MetaGetTipInput) -> Result<MetaGetTipResult, RpcError> {
        Ok(self.tip_result())
    }

    fn meta_get_balance(
        &self,
        input: MetaGetBalanceInput,
    ) -> Result<MetaGetBalanceResult, RpcError> {
        Ok(self.balance(&input.address)?)
    }

    fn meta_get_block(&self, input: MetaGetBlockInput) -> Result<MetaGetBlockResult, RpcError> {
        Ok(self.block(&input.block_id)?)
    }

    fn meta_send_transaction(
        &self,
        input: MetaSendTransactionInput,
    ) -> Result<MetaSendTransactionResult, RpcError> {
        let hash = self.submit(&input.raw)?;
        Ok(MetaSendTransactionResult {
            tx_hash: format!("0x{}", hex::encode(hash)),
        })
    }

    fn meta_get_pending_txs(
        &self,
        input: MetaGetPendingTxsInput,
    ) -> Result<MetaGetPendingTxsResult, RpcError> {
        Ok(self.pending_txs(&input))
    }

    fn meta_set_network_status(
        &self,
        input: MetaNetworkStatus,
    ) -> Result<MetaSetNetworkStatusResult, RpcError> {
        self.set_network_status(input);
        Ok(MetaSetNetworkStatusResult {})
    }

    fn meta_get_receipt(
        &self,
        input: MetaGetReceiptInput,
    ) -> Result<MetaGetReceiptResult, RpcError> {
        Ok(self.receipt(&input.tx_hash)?)
    }

    fn meta_get_storage_at(
        &self,
        input: MetaGetStorageAtInput,
    ) -> Result<MetaGetStorageAtResult, RpcError> {
        Ok(self.storage_at(&input.address, &input.slot)?)
    }

    fn meta_get_code(&self, input: MetaGetCodeInput) -> Result<MetaGetCodeResult, RpcError> {
        Ok(self.code(&input.address)?)
    }

    fn meta_get_status(&self, _input: MetaGetStatusInput) -> Result<MetaGetStatusResult, RpcError> {
        let tip = self.tip();
        Ok(MetaGetStatusResult {
            version: VERSION.to_string(),
            height: tip.number,
            hash: hex::encode(&tip.hash),
            mempool_size: self.mempool_len() as u64,
            head_subscribers: self.head_subscribers() as u64,
        })
    }

    fn meta_subscribe_new_heads(
        &self,
        _input: MetaSubscribeNewHeadsInput,
    ) -> Result<ain_rs::Subscription<MetaHeadEvent>, RpcError> {
        Ok(self.subscribe_heads())
    }

    fn meta_get_version(
        &self,
        _input: MetaGetVersionInput,
    ) -> Result<MetaGetVersionResult, RpcError> {
        Ok(MetaGetVersionResult {
            version: VERSION.to_string(),
        })
    }
}
