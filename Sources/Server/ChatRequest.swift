import Engine
import Templates

/// A validated `/v1/chat/completions` (or `/v1/completions`) request. Unknown fields are ignored;
/// a field of the wrong type is a 400 naming it.
struct ChatRequest {
    var model: String?
    /// Messages ready for the chat template (content as text, tool-call arguments as objects).
    var messages: [Value] = []
    /// `/v1/completions`: the raw prompt, no template.
    var prompt: CompletionPrompt?
    var stream = false
    var includeUsage = false
    var sampling = SamplingParameters()
    var maxTokens: Int?
    var stop: [String] = []
    /// llama.cpp's `ignore_eos`: generate to the token limit.
    var ignoreEOS = false
    var tools: [Value] = []
    var toolChoice: ToolChoice = .auto
    var parallelToolCalls = true
    var logprobs = false
    var topLogprobs = 0
    var responseFormat: ResponseFormat = .text

    /// A completion's prompt: text, or token ids as OpenAI's legacy API allows.
    enum CompletionPrompt: Equatable {
        case text(String)
        case tokens([Int32])
    }

    /// `response_format`: free text, any JSON object, or JSON following a schema.
    enum ResponseFormat: Equatable {
        case text, jsonObject
        case jsonSchema(Value)
    }

    /// The request's function tools: each one's name and parameters schema (any object when absent
    /// or empty: arguments are always an object).
    var functions: [(name: String, parameters: Value)] {
        tools.compactMap { tool in
            guard case .object(let t) = tool, case .object(let f)? = t["function"], case .string(let name)? = f["name"] else { return nil }
            switch f["parameters"] {
            case .object(let p)? where !p.keys.isEmpty: return (name, .object(p))
            case nil, .none?, .object?: return (name, .object(Value.Object([("type", .string("object"))])))
            case let other?: return (name, other)
            }
        }
    }

    /// The names of the request's function tools.
    var toolNames: Set<String> {
        Set(tools.compactMap { tool -> String? in
            if case .object(let t) = tool, case .object(let f)? = t["function"], case .string(let n)? = f["name"] { return n }
            return nil
        })
    }

    enum ToolChoice: Equatable {
        case none, auto, required
        case named(String)
    }

    init(json text: String, chat: Bool) throws {
        try self.init(body: FieldReader.object(json: text), chat: chat)
    }

    init(body: Value.Object, chat: Bool) throws {
        let f = FieldReader(body)

        model = try f.string("model")
        stream = try f.bool("stream") ?? false
        if case .object(let options)? = body["stream_options"] {
            includeUsage = try FieldReader(options, prefix: "stream_options.").bool("include_usage") ?? false
        }
        sampling.temperature = try f.number("temperature", in: 0...100).map(Float.init) ?? 0.8
        sampling.topP = try f.number("top_p", in: 0...1).map(Float.init) ?? 0.95
        // 0 (or, as llama.cpp reads it, a negative number) turns top-k off.
        sampling.topK = max(0, try f.integer("top_k", in: -1...Int(Int32.max)) ?? 40)
        sampling.minP = try f.number("min_p", in: 0...1).map(Float.init) ?? 0.05
        sampling.presencePenalty = try f.number("presence_penalty", in: -2...2).map(Float.init) ?? 0
        sampling.frequencyPenalty = try f.number("frequency_penalty", in: -2...2).map(Float.init) ?? 0
        sampling.repetitionPenalty = try f.number("repeat_penalty", in: 0...10).map(Float.init) ?? 1
        if let seed = try f.integer("seed", in: Int.min...Int.max) { sampling.seed = UInt64(truncatingIfNeeded: seed) }
        if let bias = body["logit_bias"], bias != .none {
            guard case .object(let o) = bias else { throw APIError.invalid("'logit_bias' must be an object mapping token ids to numbers.", param: "logit_bias") }
            for (k, v) in o.pairs {
                guard let id = Int32(k), let n = numericValue(v) else {
                    throw APIError.invalid("'logit_bias' must map token ids to numbers; '\(k)' is not valid.", param: "logit_bias")
                }
                sampling.logitBias[id] = Float(max(-100, min(100, n))) * (n <= -100 ? .infinity : 1)
            }
        }
        ignoreEOS = try f.bool("ignore_eos") ?? false
        maxTokens = try f.integer("max_completion_tokens", in: 1...Int(Int32.max)) ?? f.integer("max_tokens", in: 1...Int(Int32.max))
        if let n = try f.integer("n", in: Int.min...Int.max), n != 1 { throw APIError.invalid("Only n=1 is supported.", param: "n") }
        switch body["stop"] {
        case nil, .none?: break
        case .string(let s)?: stop = [s]
        case .array(let a)?:
            stop = try a.map {
                guard case .string(let s) = $0 else { throw APIError.invalid("'stop' must be a string or an array of strings.", param: "stop") }
                return s
            }
            if stop.count > 16 { throw APIError.invalid("At most 16 stop sequences are allowed.", param: "stop") }
        default: throw APIError.invalid("'stop' must be a string or an array of strings.", param: "stop")
        }
        responseFormat = try Self.responseFormat(body["response_format"])
        if !chat, case .int? = body["logprobs"] {
            // The legacy API's `logprobs: N`: that many alternatives per token.
            topLogprobs = try f.integer("logprobs", in: 0...20) ?? 0
            logprobs = true
        } else {
            logprobs = try f.bool("logprobs") ?? false
            topLogprobs = try f.integer("top_logprobs", in: 0...20) ?? 0
        }

        if chat {
            guard let raw = body["messages"] else { throw APIError.invalid("'messages' is required.", param: "messages") }
            guard case .array(let list) = raw, !list.isEmpty else { throw APIError.invalid("'messages' must be a non-empty array.", param: "messages") }
            messages = try list.enumerated().map { try Self.message($0.element, index: $0.offset) }
            if let rawTools = body["tools"], rawTools != .none {
                guard case .array(let t) = rawTools else { throw APIError.invalid("'tools' must be an array.", param: "tools") }
                tools = try t.enumerated().map { try Self.tool($0.element, index: $0.offset) }
            }
            switch body["tool_choice"] {
            case nil, .none?: toolChoice = tools.isEmpty ? .none : .auto
            case .string("none")?: toolChoice = .none
            case .string("auto")?: toolChoice = .auto
            case .string("required")?: toolChoice = .required
            case .object(let o)?:
                guard case .object(let fn)? = o["function"], case .string(let name)? = fn["name"] else {
                    throw APIError.invalid("'tool_choice' object must be {\"type\":\"function\",\"function\":{\"name\":...}}.", param: "tool_choice")
                }
                toolChoice = .named(name)
            default: throw APIError.invalid("'tool_choice' must be 'none', 'auto', 'required' or a named function.", param: "tool_choice")
            }
            if toolChoice == .required && tools.isEmpty {
                throw APIError.invalid("'tool_choice' is 'required' but the request has no 'tools'.", param: "tool_choice")
            }
            if case .named(let name) = toolChoice, !toolNames.contains(name) {
                throw APIError.invalid("'tool_choice' names the function '\(name)', which is not among the request's 'tools'.", param: "tool_choice")
            }
            parallelToolCalls = try f.bool("parallel_tool_calls") ?? true
        } else {
            prompt = try Self.completionPrompt(body["prompt"])
        }
    }

    /// A string, an array of token ids, or a one-element array of either (one prompt per request).
    static func completionPrompt(_ value: Value?) throws -> CompletionPrompt {
        let wrong = APIError.invalid("'prompt' must be a string or an array of token ids (one prompt per request).", param: "prompt")
        switch value {
        case .string(let text)?: return .text(text)
        case .array(let items)?:
            if items.count == 1, let only = items.first {
                switch only {
                case .string, .array: return try completionPrompt(only)
                default: break
                }
            }
            guard !items.isEmpty else { throw wrong }
            return .tokens(try items.map {
                guard case .int(let id) = $0, let token = Int32(exactly: id), token >= 0 else { throw wrong }
                return token
            })
        default: throw wrong
        }
    }

    /// OpenAI's `{"type": "json_schema", "json_schema": {"name": …, "schema": {…}, "strict": …}}`,
    /// `{"type": "json_object"}` (with llama.cpp's `schema` beside it), or `{"type": "text"}`.
    static func responseFormat(_ value: Value?) throws -> ResponseFormat {
        let param = "response_format"
        switch value {
        case nil, .none?: return .text
        case .object(let format)?:
            switch format["type"] {
            case .string("text")?: return .text
            case .string("json_object")?:
                if let schema = format["schema"], schema != .none { return .jsonSchema(schema) }
                return .jsonObject
            case .string("json_schema")?:
                guard case .object(let spec)? = format["json_schema"] else {
                    throw APIError.invalid("'response_format.json_schema' must be an object with the 'schema'.", param: param)
                }
                guard let schema = spec["schema"] ?? format["schema"], schema != .none else {
                    throw APIError.invalid("'response_format.json_schema.schema' is required.", param: param)
                }
                return .jsonSchema(schema)
            default:
                throw APIError.invalid("'response_format.type' must be 'text', 'json_object' or 'json_schema'.", param: param)
            }
        default:
            throw APIError.invalid("'response_format' must be an object.", param: param)
        }
    }

    /// A function tool as the request gives it, checked: a usable name and, when present, a
    /// parameters schema that is an object (the template and the call grammar read both).
    static func tool(_ v: Value, index: Int) throws -> Value {
        let param = "tools[\(index)]"
        guard case .object(let t) = v else { throw APIError.invalid("\(param) must be an object.", param: param) }
        if let type = t["type"], type != .string("function") {
            throw APIError.invalid("\(param).type must be 'function'.", param: param + ".type")
        }
        guard case .object(let f)? = t["function"] else { throw APIError.invalid("\(param).function must be an object.", param: param + ".function") }
        guard case .string(let name)? = f["name"], (1...256).contains(name.utf8.count),
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == " " }) else {
            throw APIError.invalid("\(param).function.name must be a name of 1 to 256 characters without spaces.", param: param + ".function.name")
        }
        switch f["parameters"] {
        case nil, .none?, .object?: break
        default: throw APIError.invalid("\(param).function.parameters must be a JSON Schema object.", param: param + ".function.parameters")
        }
        return v
    }

    /// One message for the template: content flattened to text, tool-call arguments parsed to objects.
    static func message(_ v: Value, index: Int) throws -> Value {
        let param = "messages[\(index)]"
        guard case .object(var m) = v else { throw APIError.invalid("\(param) must be an object.", param: param) }
        guard case .string(let role)? = m["role"] else { throw APIError.invalid("\(param).role must be a string.", param: param + ".role") }
        guard ["system", "user", "assistant", "tool", "developer", "function"].contains(role) else {
            throw APIError.invalid("\(param).role '\(role)' is not one of system, user, assistant, tool.", param: param + ".role")
        }
        if role == "developer" { m["role"] = .string("system") }
        switch m["content"] {
        // An assistant turn that only calls tools keeps its null content (DeepSeek-R1's template
        // renders the calls only then); the chat model retries with "" for templates that need text.
        case nil, .none?: m["content"] = role == "assistant" && m["tool_calls"] != nil && m["tool_calls"] != Value.none ? Value.none : .string("")
        case .string?: break
        case .array(let parts)?:
            var text: [String] = []
            for part in parts {
                guard case .object(let p) = part, case .string(let type)? = p["type"] else {
                    throw APIError.invalid("\(param).content parts must be objects with a 'type'.", param: param + ".content")
                }
                switch (type, p["text"]) {
                case ("text", .string(let t)?), ("input_text", .string(let t)?): text.append(t)
                case ("text", _), ("input_text", _):
                    throw APIError.invalid("\(param).content part of type '\(type)' needs a string 'text'.", param: param + ".content")
                case ("image_url", _): break
                default: throw APIError.invalid("\(param).content part type '\(type)' is not supported.", param: param + ".content")
                }
            }
            m["content"] = .string(text.joined(separator: "\n"))
        case .object(let structured)? where role == "tool":
            // A tool's structured result is passed as JSON text.
            m["content"] = .string(Value.object(structured).compactJSON)
        default:
            throw APIError.invalid("\(param).content must be a string or an array of content parts.", param: param + ".content")
        }
        if case .array(let calls)? = m["tool_calls"] {
            m["tool_calls"] = .array(try calls.map { call in
                guard case .object(var c) = call, case .object(var fn)? = c["function"], case .string? = fn["name"] else {
                    throw APIError.invalid("\(param).tool_calls must hold objects with a 'function' that has a 'name'.", param: param + ".tool_calls")
                }
                if case .string(let args)? = fn["arguments"], let parsed = try? Value(jsonText: args), case .object = parsed {
                    fn["arguments"] = parsed
                }
                c["function"] = .object(fn)
                return .object(c)
            })
        } else if m["tool_calls"] == .some(.none) {
            m["tool_calls"] = nil
        } else if m["tool_calls"] != nil {
            throw APIError.invalid("\(param).tool_calls must be an array of tool calls.", param: param + ".tool_calls")
        }
        // An earlier reply's reasoning, as clients send it back, is also `thinking` (gpt-oss's template
        // reads that) — except beside text content and tool calls, which that template refuses together.
        if role == "assistant", case .string(let reasoning)? = m["reasoning_content"], m["thinking"] == nil,
           m["tool_calls"] == nil || m["content"] == .string("") || m["content"] == Value.none {
            m["thinking"] = .string(reasoning)
        }
        return .object(m)
    }
}

/// Typed reads of optional request fields; a present field of the wrong type is a 400.
struct FieldReader {
    /// A request body: a JSON object, or a 400 that says what is wrong with it.
    static func object(json text: String) throws -> Value.Object {
        let root: Value
        do {
            root = try Value(jsonText: text)
        } catch TemplateError.syntax(let why) {
            throw APIError.invalid("We could not parse the JSON body of your request (\(why)).")
        }
        guard case .object(let body) = root else { throw APIError.invalid("The request body must be a JSON object.") }
        return body
    }

    let o: Value.Object
    var prefix = ""

    init(_ o: Value.Object, prefix: String = "") {
        self.o = o
        self.prefix = prefix
    }

    private func wrong(_ key: String, _ expected: String) -> APIError {
        APIError.invalid("'\(prefix + key)' must be \(expected).", param: prefix + key)
    }

    func string(_ key: String) throws -> String? {
        switch o[key] {
        case nil, .none?: return nil
        case .string(let s)?: return s
        default: throw wrong(key, "a string")
        }
    }

    func bool(_ key: String) throws -> Bool? {
        switch o[key] {
        case nil, .none?: return nil
        case .bool(let b)?: return b
        default: throw wrong(key, "a boolean")
        }
    }

    /// A number within `range` (JSON's `1e999` reads as infinity and is out of every range).
    func number(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        let value: Double
        switch o[key] {
        case nil, .none?: return nil
        case .int(let i)?: value = Double(i)
        case .double(let d)?: value = d
        default: throw wrong(key, "a number")
        }
        guard range.contains(value) else { throw wrong(key, "a number between \(Self.format(range.lowerBound)) and \(Self.format(range.upperBound))") }
        return value
    }

    /// An integer within `range`; a whole number written as a float (`5.0`, `1e3`) counts, one
    /// beyond `Int` (`1e20`) is out of range like any other.
    func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        let value: Int?
        switch o[key] {
        case nil, .none?: return nil
        case .int(let i)?: value = i
        case .double(let d)? where d == d.rounded(): value = Int(exactly: d)
        default: throw wrong(key, "an integer")
        }
        guard let value, range.contains(value) else { throw wrong(key, "an integer between \(range.lowerBound) and \(range.upperBound)") }
        return value
    }

    private static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }
}

func numericValue(_ v: Value) -> Double? {
    switch v {
    case .int(let i): return Double(i)
    case .double(let d): return d
    default: return nil
    }
}
