import Foundation
import Testing
@testable import ModelStore

struct ServiceStateTests {
    @Test func aStateIsOnlyBelievedForALiveWickService() throws {
        let home = WickHome(root: FileManager.default.temporaryDirectory.appendingPathComponent("wick-state-\(UUID().uuidString)"))
        #expect(ServiceState.read(home) == nil)
        // This test process is alive but is no Wick service: a stale file naming its pid is ignored.
        let stale = ServiceState(pid: getpid(), host: "0.0.0.0", port: 1234, apiKeyFile: nil)
        try stale.write(home)
        #expect(ServiceState.read(home) == nil)
        #expect(stale.clientBase == "http://127.0.0.1:1234")
        let attributes = try FileManager.default.attributesOfItem(atPath: home.serviceState.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        ServiceState.remove(home, pid: getpid() + 1)
        #expect(FileManager.default.fileExists(atPath: home.serviceState.path))
        ServiceState.remove(home, pid: getpid())
        #expect(!FileManager.default.fileExists(atPath: home.serviceState.path))
    }
}
