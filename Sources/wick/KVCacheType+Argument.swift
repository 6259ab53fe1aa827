import ArgumentParser
import Models

/// `--kv-cache-type f16|q8_0`.
extension KVCacheType: ExpressibleByArgument {}
