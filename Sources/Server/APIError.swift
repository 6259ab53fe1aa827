import Templates

/// An error in OpenAI's format: `{"error":{"message","type","param","code"}}` with an HTTP status.
public struct APIError: Error, Sendable {
    public let status: Int
    public let message: String
    public let type: String
    public let param: String?
    public let code: String?
    /// Seconds after which a retry may succeed (503s: a full queue, not ready), sent as `Retry-After`.
    public var retryAfter: Int?

    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    public static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    public static func notFound(_ message: String, param: String? = nil, code: String = "not_found") -> APIError {
        APIError(status: 404, message: message, type: "invalid_request_error", param: param, code: code)
    }

    public static let unauthorized = APIError(status: 401, message: "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'.",
                                              type: "invalid_request_error", code: "invalid_api_key")

    public static func internalError(_ message: String = "The server had an error while processing the request.") -> APIError {
        APIError(status: 500, message: message, type: "server_error", code: "internal_error")
    }

    public var body: Value {
        .object(Value.Object([("error", .object(Value.Object([
            ("message", .string(message)), ("type", .string(type)),
            ("param", param.map(Value.string) ?? .none), ("code", code.map(Value.string) ?? .none),
        ])))]))
    }
}
