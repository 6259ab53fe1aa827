#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Downloads one file into `FILE.part` beside its destination, resuming with an HTTP Range request
/// after a dropped connection (retried with backoff while data keeps arriving, and again on the
/// next run), checks its size and SHA-256, then renames it into place. A file that fails the check
/// is deleted; a partial one is never at the destination's name.
public struct FileDownloader: Sendable {
    public var attemptsWithoutProgress = 5
    public var firstRetryDelay: Duration = .milliseconds(500)

    public init() {}

    public static func partPath(for destination: URL) -> URL { destination.appendingPathExtension("part") }

    public func download(from url: String, headers: HTTPHeaders, to destination: URL, size: Int64, sha256: String?,
                         progress: @Sendable (DownloadProgress) -> Void) async throws {
        let part = Self.partPath(for: destination)
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        let name = destination.lastPathComponent
        var failures = 0
        var delay = firstRetryDelay
        while true {
            let before = Self.size(of: part)
            do {
                if before != size { try await transfer(url, headers: headers, part: part, size: size, name: name, progress: progress) }
                break
            } catch let error as HubError {
                if case .transfer = error {} else { throw error }
                failures = Self.size(of: part) > before ? 1 : failures + 1
                guard failures < attemptsWithoutProgress else {
                    throw HubError.transfer("\(name): \(error); \(Self.size(of: part)) of \(size) bytes are kept, and `wick get` again resumes from there")
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(30))
            }
        }
        if let sha256 {
            let found = try FileDigest.sha256(of: part)
            guard found == sha256.lowercased() else {
                try? FileManager.default.removeItem(at: part)
                throw HubError.checksumMismatch(file: name, expected: sha256.lowercased(), found: found)
            }
        }
        guard rename(part.path, destination.path) == 0 else { throw StoreError.io("cannot rename \(part.path): \(String(cString: strerror(errno)))") }
    }

    /// One request: appends to the part file from where it ends (or starts over when the server
    /// ignores the range). Anything that cuts it short is a `.transfer` error, worth retrying.
    private func transfer(_ url: String, headers: HTTPHeaders, part: URL, size: Int64, name: String,
                          progress: @Sendable (DownloadProgress) -> Void) async throws {
        var have = Self.size(of: part)
        if have > size { truncate(part.path, 0); have = 0 }
        var request = HTTPClientRequest(url: url)
        request.headers = headers
        if have > 0 { request.headers.add(name: "Range", value: "bytes=\(have)-") }
        let response: HTTPClientResponse
        do {
            response = try await HubClient.http.execute(request, deadline: .distantFuture)
        } catch {
            throw HubError.transfer("connection failed: \(error)")
        }
        switch response.status.code {
        case 206:
            guard let range = response.headers.first(name: "Content-Range"), range.hasPrefix("bytes \(have)-") else {
                throw HubError.transfer("the server sent a different range (\(response.headers.first(name: "Content-Range") ?? "none")) than bytes=\(have)-")
            }
        case 200: have = 0
        case 416:
            truncate(part.path, 0)
            throw HubError.transfer("the server refused to resume at byte \(have); starting over")
        case 401, 403: throw HubError.denied("\(name): access denied (\(response.status.code)); set HF_TOKEN to a token with access")
        case 404: throw HubError.notFound("\(name) is not on the hub (404)")
        case 500...599: throw HubError.transfer("the server answered \(response.status.code)")
        default: throw HubError.badResponse("\(name): the server answered \(response.status.code)")
        }
        let fd = open(part.path, O_WRONLY | O_CREAT | (have == 0 ? O_TRUNC : O_APPEND), 0o644)
        guard fd >= 0 else { throw StoreError.io("cannot write \(part.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let started = ContinuousClock.now
        let startBytes = have
        var lastReport = started
        do {
            for try await chunk in response.body {
                try chunk.withUnsafeReadableBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                        guard n > 0 else { throw StoreError.io("cannot write \(part.path): \(String(cString: strerror(errno)))") }
                        offset += n
                    }
                }
                have += Int64(chunk.readableBytes)
                guard have <= size else { throw HubError.transfer("the server sent more than the \(size) bytes the hub lists") }
                let now = ContinuousClock.now
                if now - lastReport >= .milliseconds(200) || have == size {
                    lastReport = now
                    progress(DownloadProgress(file: name, bytesDone: have, bytesTotal: size, bytesPerSecond: Self.rate(have - startBytes, since: started)))
                }
            }
        } catch let error as StoreError {
            throw error
        } catch let error as HubError {
            throw error
        } catch {
            throw HubError.transfer("the connection dropped after \(have) of \(size) bytes (\(error))")
        }
        fsync(fd)
        guard have == size else { throw HubError.transfer("the connection closed after \(have) of \(size) bytes") }
    }

    static func rate(_ bytes: Int64, since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return seconds > 0 ? Double(bytes) / seconds : 0
    }

    static func size(of url: URL) -> Int64 {
        var info = stat()
        return stat(url.path, &info) == 0 ? Int64(info.st_size) : 0
    }
}
