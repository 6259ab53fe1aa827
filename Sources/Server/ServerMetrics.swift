import Engine
import Metrics
import Prometheus
import Synchronization

/// Wick's Prometheus metrics (`GET /metrics`), recorded through swift-metrics. The service bootstraps
/// the Prometheus backend once (`bootstrap`); without it (servers inside tests) the records go nowhere.
/// HTTP requests by route, method and status, their durations and the active ones are Hummingbird's
/// `MetricsMiddleware` (`hb_requests`, `http_server_request_duration`, `hb_request_errors`,
/// `http_server_active_requests`).
public enum ServerMetrics {
    /// Makes swift-metrics record into a new registry, which it returns (once per process).
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // A first token may wait behind other requests for tens of seconds on a CPU.
        factory.durationHistogramBuckets[firstToken] = [.milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                                        .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120)]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    static let firstToken = "wick_time_to_first_token_seconds"

    /// A finished generation: its prompt (and the part reused from the prefix cache), generated
    /// tokens, how it ended, its time to first token (waiting included) and the mean interval
    /// between its tokens.
    static func record(_ r: GenerationResult, model: String) {
        let labels = [("model", model)]
        Metrics.Counter(label: "wick_prompt_tokens_total", dimensions: labels).increment(by: r.promptTokens)
        Metrics.Counter(label: "wick_prompt_cached_tokens_total", dimensions: labels).increment(by: r.reusedPromptTokens)
        Metrics.Counter(label: "wick_generated_tokens_total", dimensions: labels).increment(by: r.tokens.count)
        Metrics.Counter(label: "wick_generations_total", dimensions: labels + [("finish_reason", r.finishReason.rawValue)]).increment()
        if !r.tokens.isEmpty {
            Metrics.Timer(label: firstToken, dimensions: labels).recordSeconds(r.queueSeconds + r.promptSeconds)
        }
        if r.tokens.count > 1 {
            Metrics.Timer(label: "wick_inter_token_latency_seconds", dimensions: labels).recordSeconds(r.generationSeconds / Double(r.tokens.count - 1))
        }
    }

    /// Models whose page gauges the last scrape set: an unloaded one's are removed.
    private static let pageGaugeModels = Mutex<Set<String>>([])

    /// The state gauges, read when scraped: requests waiting or running, loaded models, and each
    /// model's KV cache pages held by sequences (running, or finished and kept for a follow-up turn),
    /// cached for prefix reuse, and free.
    static func recordState(of host: ModelHost) async {
        let instances = await host.instances
        Metrics.Gauge(label: "wick_queue_depth").record(host.queue.queued)
        Metrics.Gauge(label: "wick_loaded_models").record(instances.count)
        var models: Set<String> = []
        for instance in instances {
            let usage = instance.model.scheduler.pool.usage
            for (state, pages) in [("used", usage.used), ("cached", usage.cached), ("free", usage.free)] {
                pageGauge(instance.identifier, state).record(pages)
            }
            models.insert(instance.identifier)
        }
        let gone = pageGaugeModels.withLock { seen in
            defer { seen = models }
            return seen.subtracting(models)
        }
        for model in gone { for state in ["used", "cached", "free"] { pageGauge(model, state).destroy() } }
    }

    private static func pageGauge(_ model: String, _ state: String) -> Metrics.Gauge {
        Metrics.Gauge(label: "wick_kv_cache_pages", dimensions: [("model", model), ("state", state)])
    }
}
