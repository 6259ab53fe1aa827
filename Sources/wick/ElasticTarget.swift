/// What `wick elastic connect` sets up in one Elastic component, with a key Wick issued for it.
protocol ElasticTarget {
    /// What the component is called in messages ("Elasticsearch", "Kibana").
    var component: String { get }
    /// The name under which this target's keys are issued: a later run revokes the earlier ones.
    var keyName: String { get }
    /// Creates or updates the component's objects so they call Wick with `key`; returns one line per
    /// object. On failure it removes what it created and throws `ApplyFailure`.
    func apply(_ client: ElasticsearchClient, key: String) async throws -> [String]
    /// One call through the component to Wick; returns what came back.
    func test(_ client: ElasticsearchClient) async throws -> String
}

struct ApplyFailure: Error, CustomStringConvertible {
    let reason: String
    /// An existing object already took the new key, which must then stay valid.
    let keyInUse: Bool
    var description: String { reason }
}
