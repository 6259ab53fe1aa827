import Foundation
import Logging
import Synchronization
import Testing
@testable import Server

@Suite struct JSONLogHandlerTests {
    @Test func eachLineIsOneJSONObjectWithTheMetadata() throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "wick.test") { JSONLogHandler(label: $0) { line in lines.withLock { $0.append(line) } } }
        logger[metadataKey: "request_id"] = "kibana-7"
        logger.info("said \"hi\"\nthen left", metadata: ["model": "qwen", "message": "not the message"])
        logger.debug("below the level")
        let written = lines.withLock { $0 }
        #expect(written.count == 1 && !written[0].contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(written[0].utf8)) as? [String: String])
        #expect(object["message"] == "said \"hi\"\nthen left" && object["level"] == "info" && object["logger"] == "wick.test")
        #expect(object["request_id"] == "kibana-7" && object["model"] == "qwen")
        let time = try #require(object["time"])
        #expect(time.hasSuffix("Z") && time.contains("."))
    }
}
