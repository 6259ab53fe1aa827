import Hummingbird
import NIOCore

/// A request's context: Hummingbird's, and the connection the request came on, so a reply can
/// stop when its client hangs up (`WickServer.generating`).
public struct WickRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The connection's record of its client leaving (nil when it has no `ConnectionGuard`).
    func departure() async -> ConnectionGuard.Departure? {
        let channel = self.channel
        return try? await channel.eventLoop.submit { try channel.pipeline.syncOperations.handler(type: ConnectionGuard.self).departure }.get()
    }
}
