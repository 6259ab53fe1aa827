#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ModelStore

/// Starts `wick server start --foreground …` as a background process in its own session, its
/// output appended to the service log, and waits until it answers or says why it could not start.
enum ServiceLauncher {
    static func launch(arguments: [String], home: WickHome, timeout: Duration = .seconds(600)) async throws -> ServiceState {
        try home.prepare()
        let log = home.serviceLog.path
        let offset = (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? NSNumber)?.intValue ?? 0
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let pid = try spawn(executable, arguments, log: log)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let data = (try? Data(contentsOf: URL(fileURLWithPath: log))) ?? Data()
                let output = String(decoding: data.dropFirst(offset), as: UTF8.self)
                let reason = output.split(separator: "\n").last { $0.hasPrefix("Error:") }.map { String($0.dropFirst(7)) }
                throw ServiceClient.Failure(description: "the service did not start: \(reason ?? "it exited (see \(log))")")
            }
            if let state = ServiceState.read(home), state.pid == pid, await answers(state) { return state }
            try await Task.sleep(for: .milliseconds(100))
        }
        kill(pid, SIGTERM)
        throw ServiceClient.Failure(description: "the service did not answer within \(timeout); see \(log)")
    }

    static func answers(_ state: ServiceState) async -> Bool {
        (try? await ServiceClient(base: state.clientBase, key: nil).get("/health")) != nil
    }

    /// glibc's POSIX_SPAWN_SETSID, which Swift does not import.
    private static let setsidFlag: Int16 = 0x80

    /// posix_spawn with a new session (the service outlives the terminal), stdin from /dev/null,
    /// stdout and stderr appended to `log`.
    private static func spawn(_ executable: String, _ arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, setsidFlag)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else { throw ServiceClient.Failure(description: "cannot start \(executable): \(String(cString: strerror(result)))", answered: false) }
        return pid
    }
}
