import Foundation
import Testing
@testable import GGUF

/// Models published in parts (`NAME-00001-of-00003.gguf`): the first part's metadata, every part's tensors.
struct GGUFSplitTests {
    /// Writes a model of `count` parts with one tensor each into a fresh folder; returns the first part's path.
    func writeParts(_ count: Int, wrongNumberIn badPart: Int? = nil) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wick-split-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for index in 0..<count {
            var w = GGUFWriter()
            if index == 0 { w.set("general.architecture", .string("llama")) }
            w.set("split.no", .uint16(UInt16(index == badPart ? 0 : index)))
            w.set("split.count", .uint16(UInt16(count)))
            w.addTensor("t\(index)", dimensions: [4], floats: (0..<4).map { Float(index * 10 + $0) })
            try Data(w.bytes()).write(to: dir.appendingPathComponent("m" + GGUFFile.partSuffix(index + 1, of: count)))
        }
        return dir.appendingPathComponent("m" + GGUFFile.partSuffix(1, of: count)).path
    }

    @Test func thePartsOpenAsOneModel() throws {
        let f = try GGUFFile(path: try writeParts(3))
        #expect(f.architecture == "llama" && f.tensors.map(\.name) == ["t0", "t1", "t2"])
        for index in 0..<3 {
            let raw = f.data(of: try #require(f.tensor(named: "t\(index)")))
            #expect((0..<4).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } == (0..<4).map { Float(index * 10 + $0) })
        }
    }

    @Test func aMissingOrMisnumberedPartIsAnError() throws {
        let first = try writeParts(3)
        try FileManager.default.removeItem(atPath: first.replacingOccurrences(of: "-00001-of-", with: "-00003-of-"))
        #expect(throws: GGUFError.self) { try GGUFFile(path: first) }
        #expect(throws: GGUFError.badSplit("part 2 does not say it is part 2 of 2")) { try GGUFFile(path: try writeParts(2, wrongNumberIn: 1)) }
        // A later part alone is not a model.
        let second = try writeParts(2).replacingOccurrences(of: "-00001-of-", with: "-00002-of-")
        #expect(throws: GGUFError.self) { try GGUFFile(path: second) }
    }
}
