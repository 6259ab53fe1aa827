import Foundation
import GGUF
import Testing
@testable import ModelStore

struct ModelStoreTests {
    /// A store in a fresh temporary home.
    func makeStore() throws -> ModelStore {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("wick-store-\(UUID().uuidString)")
        let home = WickHome(root: root)
        try home.prepare()
        return ModelStore(home: home)
    }

    func tinyGGUF() -> Data {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        return Data(w.bytes())
    }

    func place(_ store: ModelStore, _ relative: String) throws {
        let url = store.home.models.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try tinyGGUF().write(to: url)
    }

    @Test func keysNameTheRepoAndTheQuantWhenThereAreSeveral() throws {
        let store = try makeStore()
        try place(store, "Qwen/Qwen2.5-0.5B-GGUF/qwen2.5-0.5b-q4_k_m.gguf")
        try place(store, "Qwen/Qwen2.5-0.5B-GGUF/qwen2.5-0.5b-q8_0.gguf")
        try place(store, "bartowski/Solo-GGUF/Solo-Q4_K_M.gguf")
        #expect(store.models().map(\.key) == ["bartowski/Solo-GGUF", "Qwen/Qwen2.5-0.5B-GGUF@q4_k_m", "Qwen/Qwen2.5-0.5B-GGUF@q8_0"])
    }

    @Test func partialAndIncompleteModelsAreNotListed() throws {
        let store = try makeStore()
        try place(store, "a/Big-GGUF/big-Q4_K_M-00001-of-00002.gguf")
        try place(store, "a/Big-GGUF/big-Q4_K_M-00002-of-00002.gguf")
        try place(store, "a/Half-GGUF/half-Q4_K_M-00001-of-00002.gguf")
        try place(store, "a/Half-GGUF/half-Q4_K_M-00002-of-00002.gguf.part")
        try place(store, "a/Part-GGUF/x-Q8_0.gguf.part")
        let models = store.models()
        #expect(models.map(\.key) == ["a/Big-GGUF"])
        #expect(models[0].files.map(\.lastPathComponent) == ["big-Q4_K_M-00001-of-00002.gguf", "big-Q4_K_M-00002-of-00002.gguf"])
        #expect(models[0].sizeBytes == Int64(tinyGGUF().count * 2))
    }

    @Test func namesResolveByKeyShortNameOrUniquePrefix() throws {
        let store = try makeStore()
        try place(store, "Qwen/Qwen2.5-0.5B-GGUF/qwen2.5-0.5b-q4_k_m.gguf")
        try place(store, "Qwen/Qwen2.5-0.5B-GGUF/qwen2.5-0.5b-q8_0.gguf")
        try place(store, "google/gemma-3-270m-GGUF/gemma-3-270m-Q4_K_M.gguf")
        #expect(try store.resolve("qwen/qwen2.5-0.5b-gguf@Q8_0").key == "Qwen/Qwen2.5-0.5B-GGUF@q8_0")
        #expect(try store.resolve("gemma-3-270m-GGUF").key == "google/gemma-3-270m-GGUF")
        #expect(try store.resolve("gemma").key == "google/gemma-3-270m-GGUF")
        #expect(try store.resolve("Qwen2.5-0.5B-GGUF@q4").key == "Qwen/Qwen2.5-0.5B-GGUF@q4_k_m")
        #expect(throws: StoreError.ambiguous(name: "qwen", candidates: ["Qwen/Qwen2.5-0.5B-GGUF@q4_k_m", "Qwen/Qwen2.5-0.5B-GGUF@q8_0"])) {
            try store.resolve("qwen")
        }
        #expect(throws: StoreError.self) { try store.resolve("../../etc/passwd") }
        #expect(throws: StoreError.self) { try store.resolve("llama") }
    }

    @Test func destinationsStayInsideTheStore() throws {
        let store = try makeStore()
        let ok = try store.destination(owner: "a", repo: "b", file: "sub/x.gguf")
        #expect(ok.path.hasPrefix(store.home.models.path + "/a/b/sub/"))
        for file in ["../x.gguf", "/etc/passwd", "a//b.gguf", "sub/../../x.gguf", ".hidden.gguf", "a\\b.gguf"] {
            #expect(throws: StoreError.self, "\(file)") { try store.destination(owner: "a", repo: "b", file: file) }
        }
        #expect(throws: StoreError.self) { try store.destination(owner: "..", repo: "b", file: "x.gguf") }
    }

    @Test func importCopiesLinksOrMovesAndRemoveCleansUp() throws {
        let store = try makeStore()
        let outside = store.home.root.appendingPathComponent("My-Model-Q4_0.gguf")
        try tinyGGUF().write(to: outside)
        let importer = ModelImporter(store: store)
        let plan = try importer.plan(file: outside.path, userRepo: nil, mode: .copy)
        #expect(plan.destinations.map(\.path) == [store.home.models.path + "/local/My-Model-Q4_0/My-Model-Q4_0.gguf"])
        try importer.perform(plan)
        try importer.perform(try importer.plan(file: outside.path, userRepo: "me/linked", mode: .symbolicLink))
        #expect(store.models().map(\.key) == ["local/My-Model-Q4_0", "me/linked"])
        try importer.perform(try importer.plan(file: outside.path, userRepo: "me/moved", mode: .move))
        #expect(!FileManager.default.fileExists(atPath: outside.path))
        // The link now points nowhere: it is not a model any more.
        #expect(store.models().map(\.key) == ["local/My-Model-Q4_0", "me/moved"])
        #expect(throws: StoreError.self) { try importer.plan(file: store.home.models.path + "/me/moved/My-Model-Q4_0.gguf", userRepo: "me/moved", mode: .copy) }
        let notGGUF = store.home.root.appendingPathComponent("junk.gguf")
        try Data("not a model".utf8).write(to: notGGUF)
        #expect(throws: StoreError.self) { try importer.plan(file: notGGUF.path, userRepo: nil, mode: .copy) }
        try store.remove(try store.resolve("me/moved"))
        #expect(store.models().map(\.key) == ["local/My-Model-Q4_0"])
        #expect(!FileManager.default.fileExists(atPath: store.home.models.path + "/me/moved"))
    }

    @Test func settingsRoundTripAndTrust() throws {
        let store = try makeStore()
        #expect(try Settings.load(from: store.home) == Settings())
        var s = Settings()
        s.trustedPublishers = ["acme"]
        s.defaultContextLength = 65536
        try s.save(to: store.home)
        let loaded = try Settings.load(from: store.home)
        #expect(loaded == s)
        #expect(Publishers.isTrusted("ACME", settings: loaded) && Publishers.isTrusted("bartowski", settings: loaded))
        #expect(!Publishers.isTrusted("stranger", settings: loaded))
    }
}
