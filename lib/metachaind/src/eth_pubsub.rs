//! What the Ethereum JSON-RPC pushes or queues as the chain moves: polled
//! filters (`eth_newFilter`, `eth_newBlockFilter`,
//! `eth_newPendingTransactionFilter`, `eth_getFilterChanges`,
//! `eth_getFilterLogs`, `eth_uninstallFilter`) and WebSocket subscriptions
//! (`eth_subscribe` `newHeads`, `logs`, `newPendingTransactions`). Both
//! follow the engine's [`ChainEvent`]s: a disconnected block's logs come
//! back with `removed: true`.

use crate::eth::{header_of, log_filter, log_json, query_logs, tx_json, INVALID_PARAMS};
use alloy_primitives::{B256, U128};
use alloy_rpc_types_eth::{Filter, FilterBlockOption};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, RpcModule};
use metachain::eth::{BlockTx, ChainEvent, IndexedLog, LogFilter};
use metachain::Engine;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;

/// Filters a client may have installed at once (all clients together).
pub const MAX_FILTERS: usize = 10_000;
/// Changes one filter keeps between polls; older ones are dropped.
pub const MAX_FILTER_CHANGES: usize = 10_000;
/// geth's idle deadline for filters.
pub const DEFAULT_FILTER_TIMEOUT: Duration = Duration::from_secs(300);

type RpcResult<T> = Result<T, ErrorObjectOwned>;

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

enum Kind {
    Blocks,
    PendingTxs,
    /// New logs between `from` and `to` (`None`: unbounded) that match.
    Logs {
        query: Box<Filter>,
        from: Option<u64>,
        to: Option<u64>,
        filter: LogFilter,
    },
}

struct Installed {
    kind: Kind,
    changes: VecDeque<Value>,
    last_poll: Instant,
}

impl Installed {
    fn push(&mut self, v: Value) {
        if self.changes.len() == MAX_FILTER_CHANGES {
            self.changes.pop_front();
        }
        self.changes.push_back(v);
    }

    fn follow(&mut self, event: &ChainEvent) {
        match (&self.kind, event) {
            (Kind::Blocks, ChainEvent::Connected { hash, .. }) => self.push(json!(hash)),
            (Kind::PendingTxs, ChainEvent::Pending(h)) => self.push(json!(h)),
            (
                Kind::Logs {
                    from, to, filter, ..
                },
                ChainEvent::Connected { number, logs, .. }
                | ChainEvent::Disconnected { number, logs, .. },
            ) => {
                if from.is_some_and(|f| *number < f) || to.is_some_and(|t| *number > t) {
                    return;
                }
                let removed = matches!(event, ChainEvent::Disconnected { .. });
                let new: Vec<Value> = matching(logs, filter)
                    .map(|l| json!(log_json(l, removed)))
                    .collect();
                for v in new {
                    self.push(v);
                }
            }
            _ => {}
        }
    }
}

/// The installed filters of one endpoint.
pub struct PubSub {
    engine: Arc<Engine>,
    filters: Mutex<HashMap<U128, Installed>>,
    timeout: Duration,
    ids: std::collections::hash_map::RandomState,
    next: std::sync::atomic::AtomicU64,
}

impl PubSub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<U128, Installed>> {
        self.filters.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn install(&self, kind: Kind) -> RpcResult<U128> {
        let mut filters = self.lock();
        if filters.len() >= MAX_FILTERS {
            return Err(error(
                crate::eth::SERVER_ERROR,
                format!("too many filters installed (at most {MAX_FILTERS}); uninstall some"),
            ));
        }
        let id = loop {
            // Unguessable, as geth's: another client cannot poll or drop it.
            let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut h = self.ids.build_hasher();
            h.write_u64(n);
            let hi = h.finish();
            h.write_u64(hi);
            let id = U128::from((u128::from(hi) << 64) | u128::from(h.finish()));
            if !filters.contains_key(&id) {
                break id;
            }
        };
        filters.insert(
            id,
            Installed {
                kind,
                changes: VecDeque::new(),
                last_poll: Instant::now(),
            },
        );
        Ok(id)
    }

    fn sweep(&self) {
        let timeout = self.timeout;
        self.lock().retain(|_, f| f.last_poll.elapsed() < timeout);
    }
}

fn not_found() -> ErrorObjectOwned {
    error(crate::eth::SERVER_ERROR, "filter not found")
}

/// Feeds every installed filter from the engine's events, and drops idle
/// filters, until the endpoint (its module) is gone.
async fn feed(pubsub: Weak<PubSub>, mut events: tokio::sync::broadcast::Receiver<ChainEvent>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let Some(p) = pubsub.upgrade() else { return };
                    for f in p.lock().values_mut() {
                        f.follow(&event);
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "eth filters fell behind the chain events");
                }
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => match pubsub.upgrade() {
                Some(p) => p.sweep(),
                None => return,
            },
        }
    }
}

/// The filter and subscription methods for `engine`.
pub fn module(
    engine: Arc<Engine>,
    timeout: Duration,
) -> Result<RpcModule<PubSub>, jsonrpsee::core::RegisterMethodError> {
    let pubsub = Arc::new(PubSub {
        engine: engine.clone(),
        filters: Mutex::new(HashMap::new()),
        timeout,
        ids: Default::default(),
        next: Default::default(),
    });
    tokio::spawn(feed(Arc::downgrade(&pubsub), engine.subscribe_events()));
    let mut m = RpcModule::from_arc(pubsub);

    m.register_method("eth_newBlockFilter", |_, p, _| p.install(Kind::Blocks))?;
    m.register_method("eth_newPendingTransactionFilter", |_, p, _| {
        p.install(Kind::PendingTxs)
    })?;
    m.register_blocking_method("eth_newFilter", |params, p, _| -> RpcResult<U128> {
        let q: Filter = params.one()?;
        let filter = log_filter(&q)?;
        let (from, to) = match q.block_option {
            FilterBlockOption::AtBlockHash(_) => {
                return Err(error(
                    INVALID_PARAMS,
                    "a filter follows new blocks: use fromBlock/toBlock, not blockHash",
                ))
            }
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => {
                let bound = |t: Option<alloy_rpc_types_eth::BlockNumberOrTag>| {
                    t.and_then(|t| t.as_number())
                };
                (bound(from_block), bound(to_block))
            }
        };
        p.install(Kind::Logs {
            query: Box::new(q),
            from,
            to,
            filter,
        })
    })?;
    m.register_method("eth_uninstallFilter", |params, p, _| -> RpcResult<bool> {
        let id: U128 = params.one()?;
        Ok(p.lock().remove(&id).is_some())
    })?;
    m.register_method(
        "eth_getFilterChanges",
        |params, p, _| -> RpcResult<Vec<Value>> {
            let id: U128 = params.one()?;
            let mut filters = p.lock();
            let f = filters.get_mut(&id).ok_or_else(not_found)?;
            f.last_poll = Instant::now();
            Ok(f.changes.drain(..).collect())
        },
    )?;
    m.register_blocking_method(
        "eth_getFilterLogs",
        |params, p, _| -> RpcResult<Vec<Value>> {
            let id: U128 = params.one()?;
            let query = {
                let mut filters = p.lock();
                let f = filters.get_mut(&id).ok_or_else(not_found)?;
                f.last_poll = Instant::now();
                match &f.kind {
                    Kind::Logs { query, .. } => query.clone(),
                    _ => return Err(error(INVALID_PARAMS, "not a log filter")),
                }
            };
            let logs = query_logs(&p.engine, &query)?;
            Ok(logs.iter().map(|l| json!(log_json(l, false))).collect())
        },
    )?;

    m.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |params, pending, p, _| async move { subscribe(params, pending, p).await },
    )?;
    Ok(m)
}

enum Topic {
    Heads,
    Logs(LogFilter),
    Pending { full: bool },
}

fn topic(params: &Params<'static>) -> RpcResult<Topic> {
    let mut seq = params.sequence();
    let name: String = seq.next()?;
    match name.as_str() {
        "newHeads" => Ok(Topic::Heads),
        "logs" => {
            let q: Option<Filter> = seq.optional_next()?;
            let q = q.unwrap_or_default();
            if !matches!(
                q.block_option,
                FilterBlockOption::Range {
                    from_block: None,
                    to_block: None
                }
            ) {
                return Err(error(
                    INVALID_PARAMS,
                    "a logs subscription follows new blocks: no fromBlock, toBlock or blockHash",
                ));
            }
            Ok(Topic::Logs(log_filter(&q)?))
        }
        "newPendingTransactions" => Ok(Topic::Pending {
            full: seq.optional_next::<bool>()?.unwrap_or(false),
        }),
        other => Err(error(
            INVALID_PARAMS,
            format!("unknown subscription {other:?}: newHeads, logs or newPendingTransactions"),
        )),
    }
}

/// What one event means to a subscriber: zero or more notifications.
fn notifications(engine: &Engine, topic: &Topic, event: &ChainEvent) -> Vec<Value> {
    match (topic, event) {
        (Topic::Heads, ChainEvent::Connected { hash, .. }) => {
            // A block disconnected meanwhile is skipped: a newer head follows.
            match engine.block_by_hash(*hash) {
                Ok(Some(b)) => vec![json!(header_of(&b))],
                _ => Vec::new(),
            }
        }
        (Topic::Logs(filter), ChainEvent::Connected { logs, .. })
        | (Topic::Logs(filter), ChainEvent::Disconnected { logs, .. }) => {
            let removed = matches!(event, ChainEvent::Disconnected { .. });
            matching(logs, filter)
                .map(|l| json!(log_json(l, removed)))
                .collect()
        }
        (Topic::Pending { full: false }, ChainEvent::Pending(h)) => vec![json!(h)],
        (Topic::Pending { full: true }, ChainEvent::Pending(h)) => pending_tx(engine, h),
        _ => Vec::new(),
    }
}

fn matching<'a>(
    logs: &'a [IndexedLog],
    filter: &'a LogFilter,
) -> impl Iterator<Item = &'a IndexedLog> {
    logs.iter().filter(move |l| filter.matches(l))
}

fn pending_tx(engine: &Engine, h: &B256) -> Vec<Value> {
    // Mined or replaced before we looked: nothing to say.
    let Some(tx) = engine.pooled_tx(h) else {
        return Vec::new();
    };
    let info = alloy_consensus::transaction::TransactionInfo {
        hash: Some(*h),
        ..Default::default()
    };
    tx_json(&BlockTx::Evm(Box::new(tx)), info)
        .map(|v| vec![v])
        .unwrap_or_default()
}

async fn subscribe(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    p: Arc<PubSub>,
) -> jsonrpsee::core::SubscriptionResult {
    let events = topic(&params).map(|topic| (topic, p.engine.subscribe_events()));
    let (topic, events) = match events {
        Ok((topic, rx)) => (Some(topic), Ok(rx)),
        Err(e) => (None, Err(e)),
    };
    ain_rs::jsonrpc::pipe_mapped(pending, events, move |event| match &topic {
        Some(topic) => notifications(&p.engine, topic, &event),
        None => Vec::new(),
    })
    .await
}
