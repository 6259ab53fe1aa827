import Foundation
import Testing
@testable import Server

/// A loaded model's file truncated in place by another process (a shell's `: > file`): the model is unloaded, its running
/// generation ends with `model_file_changed`, and the truncation goes ahead once the mapping is
/// released — the service never reads a page cut off the file (which would end it with SIGBUS).
struct ModelFileChangeTests {
    static func truncate(_ path: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", ": > \"$0\"", path]
        try p.run()
        return p
    }

    @Test func aModelWhoseFileIsTruncatedIsUnloadedFirst() async throws {
        let host = ModelHost(queue: InferenceQueue(threads: 1, maxQueued: 4), store: nil)
        await host.watchFileChanges()
        let path = try TinyChatModel.file()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await host.load(.init(model: path, contextLength: 100_000, identifier: "tiny"))

        var truncation: Process?
        let failure: APIError? = try await {
            let stream = try await host.model(named: "tiny").generate(
                prompt: [1, 5, 6, 7], parameters: .greedy, maxTokens: 100_000, stop: [], logprobs: nil,
                loopGuard: false, ignoreEOS: true, grammar: nil)
            for await event in stream {
                switch event {
                case .text where truncation == nil: truncation = try Self.truncate(path)
                case .failed(let error): return error
                case .finished: return nil
                default: break
                }
            }
            return nil
        }()
        #expect(failure?.code == "model_file_changed" && failure?.status == 503)
        #expect(await host.instances.isEmpty)
        let process = try #require(truncation)
        for _ in 0..<500 where process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!process.isRunning && process.terminationStatus == 0)
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) == 0)

        // Loading the truncated file again is a clear error.
        await #expect(throws: APIError.self) { try await host.load(.init(model: path, identifier: "again")) }
    }

    @Test func aFileBeingWrittenIsNotLoaded() async throws {
        let host = ModelHost(queue: InferenceQueue(threads: 1, maxQueued: 4), store: nil)
        await host.watchFileChanges()
        let path = try TinyChatModel.file()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try #require(FileHandle(forWritingAtPath: path))
        defer { try? writer.close() }
        do {
            try await host.load(.init(model: path, contextLength: 256))
            Issue.record("a file open for writing was loaded")
        } catch let error as APIError {
            #expect(error.code == "model_file_busy" && error.status == 409)
        }
    }
}
