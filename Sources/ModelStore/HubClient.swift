import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Talks to a Hugging Face–compatible hub (`HF_ENDPOINT`, default the public hub; `HF_TOKEN` sent
/// when set): search, a repository's file list and its files' download addresses.
public struct HubClient: Sendable {
    public let endpoint: String
    public let token: String?

    public init(endpoint: String, token: String?) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.token = token?.isEmpty == false ? token : nil
    }

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init(endpoint: environment["HF_ENDPOINT"] ?? "https://huggingface.co", token: environment["HF_TOKEN"])
    }

    /// One client for every hub request: redirects followed (to the hub's file storage), a
    /// stalled transfer noticed after a minute without data.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .follow(max: 10, allowCycles: false),
                                                     timeout: .init(connect: .seconds(15), read: .seconds(60)))
        configuration.httpVersion = .http1Only
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    var headers: HTTPHeaders {
        var h = HTTPHeaders([("User-Agent", "wick")])
        if let token { h.add(name: "Authorization", value: "Bearer \(token)") }
        return h
    }

    /// The `.gguf` files of `owner/repo` (main branch), after checking the repository exists and may be read.
    public func files(owner: String, repo: String) async throws -> [HubFile] {
        _ = try await get("/api/models/\(owner)/\(repo)", what: "\(owner)/\(repo)")
        var files: [HubFile] = []
        var next: String? = "/api/models/\(owner)/\(repo)/tree/main?recursive=true"
        // The hub pages long listings with a `Link: <…>; rel="next"` header.
        while let path = next {
            let (body, link) = try await get(path, what: "\(owner)/\(repo)")
            do {
                files += try JSONDecoder().decode([Entry].self, from: body).filter { $0.type == "file" }.map(\.file)
            } catch {
                throw HubError.badResponse("the file list of \(owner)/\(repo) from \(endpoint) is not what a hub sends: \(error)")
            }
            next = link.flatMap(Self.nextPage)
        }
        return files.filter { ModelFileName($0.path) != nil }
    }

    private struct Entry: Decodable {
        let type: String
        let file: HubFile
        init(from decoder: Decoder) throws {
            type = try decoder.container(keyedBy: HubFile.CodingKeys.self).decode(String.self, forKey: .type)
            file = try HubFile(from: decoder)
        }
    }

    /// Repositories with GGUF files whose names hold the words of `query`, most downloaded first.
    public func search(_ query: String, limit: Int = 30) async throws -> [HubRepo] {
        var components = URLComponents()
        components.queryItems = [URLQueryItem(name: "search", value: query), URLQueryItem(name: "filter", value: "gguf"),
                                 URLQueryItem(name: "sort", value: "downloads"), URLQueryItem(name: "direction", value: "-1"),
                                 URLQueryItem(name: "limit", value: String(limit))]
        let (body, _) = try await get("/api/models?" + (components.percentEncodedQuery ?? ""), what: "the search for '\(query)'")
        do {
            return try JSONDecoder().decode([HubRepo].self, from: body)
        } catch {
            throw HubError.badResponse("the search results from \(endpoint) are not what a hub sends: \(error)")
        }
    }

    /// Where a file is downloaded from.
    public func downloadURL(owner: String, repo: String, file: String) -> String {
        let encoded = file.split(separator: "/").map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? String($0) }
        return "\(endpoint)/\(owner)/\(repo)/resolve/main/\(encoded.joined(separator: "/"))"
    }

    private func get(_ path: String, what: String) async throws -> (Data, String?) {
        var request = HTTPClientRequest(url: path.hasPrefix("http") ? path : endpoint + path)
        request.headers = headers
        let response: HTTPClientResponse
        do {
            response = try await Self.http.execute(request, timeout: .seconds(60))
        } catch {
            throw HubError.unreachable("could not reach \(endpoint): \(error)")
        }
        let body = try await response.body.collect(upTo: 64 << 20)
        switch response.status.code {
        case 200: return (Data(body.readableBytesView), response.headers.first(name: "Link"))
        case 401, 403: throw HubError.denied("\(what) on \(endpoint) needs access\(token == nil ? ": set HF_TOKEN to a token that has it" : " that HF_TOKEN does not grant")")
        case 404: throw HubError.notFound("\(endpoint) has no repository \(what)")
        default: throw HubError.badResponse("\(endpoint) answered \(response.status.code) for \(what)")
        }
    }

    static func nextPage(_ link: String) -> String? {
        for part in link.split(separator: ",") where part.contains("rel=\"next\"") {
            guard let open = part.firstIndex(of: "<"), let close = part.firstIndex(of: ">"), open < close else { continue }
            return String(part[part.index(after: open)..<close])
        }
        return nil
    }
}
