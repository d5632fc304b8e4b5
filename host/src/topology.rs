//! The parts of a running Weft that a config change can replace without a restart:
//! receivers (listeners) and exporters.
//!
//! Replacing follows the same rule as plugins: build the new part first, and only then retire
//! the old one; if the new part cannot be built, the old one keeps running and the reason is
//! reported. Nothing accepted is dropped: a retired receiver finishes its in-flight requests,
//! and a retired exporter flushes everything it was handed before it stops.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::auth::{BearerTokens, TokenGate};
use crate::config::{ExporterConfig, ListenerConfig, OtlpReceiverConfig};
use crate::durable::{Ledger, Slot};
use crate::exporter::{
    ExportFanout, ExporterHandle, GiveUp, Sink, start_exporter, start_loadbalancer,
};
use crate::pipeline::{ConnectionRefusal, Protocol, Submitter};
use crate::telemetry::Metrics;
use crate::tls::{Refused, ServerTls, accept};

/// A listening receiver.
struct RunningReceiver {
    config: ListenerConfig,
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// A running exporter and the queue that feeds it.
struct RunningExporter {
    config: ExporterConfig,
    counters: Arc<crate::telemetry::ExporterMetrics>,
    sender: async_channel::Sender<crate::exporter::Queued>,
    /// Its slot among the persistent queue's consumers.
    slot: Option<Slot>,
    handle: ExporterHandle,
}

/// The persistent queue, as exporters see it: the ledger they claim records in, and how long
/// they retry before giving up on a batch.
#[derive(Clone)]
pub struct DurableExports {
    /// The ledger.
    pub ledger: Arc<Ledger>,
    /// Retries go on for this long.
    pub max_age: std::time::Duration,
}

/// Receivers and exporters, replaceable while running.
pub struct Topology {
    metrics: Arc<Metrics>,
    submitter: Option<Submitter>,
    /// The bearer tokens both receivers require, shared with them.
    auth: Arc<TokenGate>,
    grpc: Option<RunningReceiver>,
    http: Option<RunningReceiver>,
    exporters: BTreeMap<String, RunningExporter>,
    durable: Option<DurableExports>,
    fanout: watch::Sender<Arc<ExportFanout>>,
    /// Receivers being stopped and exporters being drained after a replacement: awaited at shutdown.
    retired_receivers: Vec<JoinHandle<()>>,
    retired_exporters: Vec<ExporterHandle>,
}

impl Topology {
    /// Starts the exporters of `exporters`; receivers are added by [`Topology::set_receivers`]
    /// once the workers (and so the submitter) exist.
    pub fn start_exporters(
        metrics: Arc<Metrics>,
        exporters: &BTreeMap<String, ExporterConfig>,
        base_dir: &Path,
        durable: Option<DurableExports>,
    ) -> anyhow::Result<(Self, watch::Receiver<Arc<ExportFanout>>)> {
        let mut running = BTreeMap::new();
        for (name, config) in exporters {
            let started = start_one(&metrics, name, config, base_dir, durable.as_ref())?;
            running.insert(name.clone(), started);
        }
        let fanout = fanout_of(&running, durable.as_ref());
        let (fanout, receiver) = watch::channel(Arc::new(fanout));
        let topology = Topology {
            metrics,
            submitter: None,
            auth: Arc::new(TokenGate::default()),
            grpc: None,
            http: None,
            exporters: running,
            durable,
            fanout,
            retired_receivers: Vec::new(),
            retired_exporters: Vec::new(),
        };
        Ok((topology, receiver))
    }

    /// The bound OTLP/gRPC address.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().map(|r| r.addr)
    }

    /// The bound OTLP/HTTP address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|r| r.addr)
    }

    /// Makes the receivers match `config`, binding new listeners before stopping old ones
    /// (or, for the same address, right after). Returns what changed. On a bind failure the
    /// running receiver of that protocol stays.
    pub async fn set_receivers(
        &mut self,
        config: &OtlpReceiverConfig,
        base_dir: &Path,
        submitter: Option<Submitter>,
    ) -> anyhow::Result<Vec<String>> {
        if let Some(submitter) = submitter {
            self.submitter = Some(submitter);
        }
        // Running listeners check the new tokens from their next request on.
        let tokens = config
            .auth
            .as_ref()
            .map(|auth| BearerTokens::new(auth.tokens()));
        self.auth.set(tokens);
        let mut changed = Vec::new();
        for protocol in [Protocol::Grpc, Protocol::Http] {
            let wanted = match protocol {
                Protocol::Grpc => config.grpc.as_ref(),
                Protocol::Http => config.http.as_ref(),
            };
            let slot = match protocol {
                Protocol::Grpc => &mut self.grpc,
                Protocol::Http => &mut self.http,
            };
            if slot.as_ref().map(|r| &r.config) == wanted {
                continue;
            }
            let name = match protocol {
                Protocol::Grpc => "receivers.otlp.grpc",
                Protocol::Http => "receivers.otlp.http",
            };
            // Same address: the old listener must let go of the port first.
            let same_address = matches!((slot.as_ref(), wanted), (Some(old), Some(new)) if old.config.endpoint == new.endpoint);
            if (same_address || wanted.is_none())
                && let Some(old) = slot.take()
            {
                let _ = old.stop.send(());
                let _ = old.task.await;
            }
            if let Some(wanted) = wanted {
                let submitter = self
                    .submitter
                    .clone()
                    .context("receivers need the pipeline")?;
                let started =
                    start_receiver(protocol, wanted, base_dir, submitter, self.auth.clone())
                        .await
                        .with_context(|| format!("starting {name}"))?;
                if let Some(old) = slot.replace(started) {
                    let _ = old.stop.send(());
                    self.retired_receivers.push(old.task);
                }
            }
            changed.push(name.to_owned());
        }
        Ok(changed)
    }

    /// Makes the exporters match `config`: new and changed exporters start first, then the
    /// workers switch to the new set; replaced and removed exporters drain and stop.
    pub fn set_exporters(
        &mut self,
        config: &BTreeMap<String, ExporterConfig>,
        base_dir: &Path,
    ) -> anyhow::Result<Vec<String>> {
        let mut started = BTreeMap::new();
        for (name, wanted) in config {
            if self
                .exporters
                .get(name)
                .is_some_and(|running| running.config == *wanted)
            {
                continue;
            }
            let durable = self.durable.as_ref();
            started.insert(
                name.clone(),
                start_one(&self.metrics, name, wanted, base_dir, durable)?,
            );
        }
        let removed: Vec<String> = self
            .exporters
            .keys()
            .filter(|name| !config.contains_key(*name))
            .cloned()
            .collect();
        let mut changed: Vec<String> = started
            .keys()
            .chain(&removed)
            .map(|n| format!("exporters.{n}"))
            .collect();
        changed.sort();
        for name in removed {
            let old = self.exporters.remove(&name).expect("listed above");
            self.retired_exporters.push(old.handle);
            if let Some(durable) = &self.durable {
                durable.ledger.remove_consumer(&name);
            }
        }
        for (name, new) in started {
            if let Some(old) = self.exporters.insert(name, new) {
                self.retired_exporters.push(old.handle);
            }
        }
        if !changed.is_empty() {
            let fanout = fanout_of(&self.exporters, self.durable.as_ref());
            self.fanout.send_replace(Arc::new(fanout));
        }
        Ok(changed)
    }

    /// Stops the receivers (in-flight requests finish) and gives up this topology's hold on the
    /// pipeline queue, so the workers can drain it and stop.
    pub async fn stop_receivers(&mut self) {
        for receiver in [self.grpc.take(), self.http.take()].into_iter().flatten() {
            let _ = receiver.stop.send(());
            let _ = receiver.task.await;
        }
        for task in self.retired_receivers.drain(..) {
            let _ = task.await;
        }
        self.submitter = None;
    }

    /// Once the workers have stopped: lets go of every exporter queue, so each exporter flushes
    /// what it holds and stops. Returns them all (running and retired) to wait on.
    pub fn release_exporters(&mut self) -> Vec<ExporterHandle> {
        let running = std::mem::take(&mut self.exporters);
        self.fanout.send_replace(Arc::new(ExportFanout::default()));
        let mut handles: Vec<ExporterHandle> = running.into_values().map(|e| e.handle).collect();
        handles.append(&mut self.retired_exporters);
        handles
    }
}

fn fanout_of(
    exporters: &BTreeMap<String, RunningExporter>,
    durable: Option<&DurableExports>,
) -> ExportFanout {
    let mut fanout = match durable {
        Some(durable) => ExportFanout::durable(durable.ledger.clone()),
        None => ExportFanout::default(),
    };
    for exporter in exporters.values() {
        fanout.push(
            exporter.sender.clone(),
            exporter.counters.clone(),
            exporter.slot,
        );
    }
    fanout
}

/// Starts exporter `name`. With a persistent queue it reads the log from its saved progress
/// (or, new, from the log's end), and retries each batch for the queue's maximum age.
fn start_one(
    metrics: &Arc<Metrics>,
    name: &str,
    config: &ExporterConfig,
    base_dir: &Path,
    durable: Option<&DurableExports>,
) -> anyhow::Result<RunningExporter> {
    let context = || format!("starting exporter {name:?}");
    if let ExporterConfig::Loadbalancing(balancing) = config {
        let slot = durable
            .map(|d| d.ledger.consumer(name))
            .transpose()
            .with_context(context)?;
        let (sender, handle) = start_loadbalancer(
            name.to_owned(),
            balancing.clone(),
            base_dir.to_path_buf(),
            metrics.clone(),
        );
        return Ok(RunningExporter {
            config: config.clone(),
            counters: metrics.exporter(name),
            sender,
            slot,
            handle,
        });
    }
    let sink = Sink::from_config(config, base_dir).with_context(context)?;
    let mut retry = config.retry().clone();
    let slot = match durable {
        Some(durable) => {
            retry.max_elapsed_ms = retry.max_elapsed_ms.max(durable.max_age.as_millis() as u64);
            Some(durable.ledger.consumer(name).with_context(context)?)
        }
        None => None,
    };
    let give_up = match durable {
        Some(durable) => GiveUp::DeadLetter(durable.ledger.clone()),
        None => GiveUp::Count,
    };
    let (sender, handle) = start_exporter(
        name.to_owned(),
        sink,
        (config.batch().clone(), retry),
        give_up,
        metrics.clone(),
    );
    Ok(RunningExporter {
        config: config.clone(),
        counters: metrics.exporter(name),
        sender,
        slot,
        handle,
    })
}

async fn start_receiver(
    protocol: Protocol,
    config: &ListenerConfig,
    base_dir: &Path,
    submitter: Submitter,
    auth: Arc<TokenGate>,
) -> anyhow::Result<RunningReceiver> {
    let alpn: &[&[u8]] = match protocol {
        Protocol::Grpc => &[b"h2"],
        Protocol::Http => &[b"http/1.1"],
    };
    let tls = match &config.tls {
        Some(tls) => Some(ServerTls::new(tls, base_dir, alpn).context("setting up TLS")?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&config.endpoint)
        .await
        .with_context(|| format!("binding {}", config.endpoint))?;
    let counts = submitter.clone();
    let on_refused = Arc::new(move |refused: Refused| {
        let reason = match refused {
            Refused::Handshake => ConnectionRefusal::TlsHandshake,
            Refused::ConnectionLimit => ConnectionRefusal::ConnectionLimit,
        };
        counts.count_connection_refused(protocol, reason);
    });
    let listener = accept(listener, tls, config.limits.max_connections, on_refused)?;
    let addr = listener.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };
    let max = config.max_request_bytes;
    let limits = config.limits;
    let subject_attribute: Option<Arc<str>> = config
        .tls
        .as_ref()
        .and_then(|tls| tls.client_subject_attribute.as_deref())
        .map(Arc::from);
    let task = match protocol {
        Protocol::Grpc => tokio::spawn(async move {
            let serve = crate::receiver::serve_grpc(
                listener,
                submitter,
                max,
                auth,
                (limits, subject_attribute),
                shutdown,
            );
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "OTLP/gRPC receiver failed.");
            }
        }),
        Protocol::Http => tokio::spawn(async move {
            let serve = crate::receiver::serve_http(
                listener,
                submitter,
                (max, limits, subject_attribute),
                auth,
                shutdown,
            );
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "OTLP/HTTP receiver failed.");
            }
        }),
    };
    Ok(RunningReceiver {
        config: config.clone(),
        addr,
        stop,
        task,
    })
}

/// Where the receivers listen now (they can move on reload).
#[derive(Debug, Clone, Copy, Default)]
pub struct Addresses {
    /// OTLP/gRPC.
    pub grpc: Option<SocketAddr>,
    /// OTLP/HTTP.
    pub http: Option<SocketAddr>,
}
