import Foundation
import Testing
@testable import Server

struct EmbeddingsRequestTests {
    typealias Request = EmbeddingsHandler.Request

    @Test func everyInputShapeIsRead() throws {
        #expect(try Request(json: #"{"input":"hello"}"#).inputs == [.text("hello")])
        #expect(try Request(json: #"{"input":["a","b"]}"#).inputs == [.text("a"), .text("b")])
        #expect(try Request(json: #"{"input":[1,2,3]}"#).inputs == [.tokens([1, 2, 3])])
        #expect(try Request(json: #"{"input":[[1],[2,3]],"encoding_format":"base64"}"#).inputs == [.tokens([1]), .tokens([2, 3])])
        #expect(try Request(json: #"{"input":"x","encoding_format":"base64"}"#).base64)
        #expect(try Request(json: #"{"input":"x","dimensions":896}"#).dimensions == 896)
    }

    @Test func badInputsAreRefusedNamingTheField() {
        for body in [#"{}"#, #"{"input":5}"#, #"{"input":[]}"#, #"{"input":[true]}"#, #"{"input":[[]]}"#, #"{"input":[""]}"#,
                     #"{"input":[1.5]}"#, #"{"input":[99999999999]}"#, #"{"input":"x","encoding_format":"hex"}"#, #"{"input":"x","dimensions":0}"#,
                     #"{"input":"x","dimensions":1e30}"#, #"{"input":[1e20]}"#, #"{"input":[[1e999]]}"#] {
            #expect(throws: APIError.self, "\(body)") { try Request(json: body) }
        }
    }

    @Test func base64IsLittleEndianFloat32() {
        let vector: [Float] = [1, -0.5, 3.25, .leastNonzeroMagnitude]
        let data = Data(base64Encoded: EmbeddingsHandler.base64(vector))!
        let decoded = data.withUnsafeBytes { raw in (0..<vector.count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
        #expect(decoded == vector)
    }
}
