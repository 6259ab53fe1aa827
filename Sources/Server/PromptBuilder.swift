import Engine
import Foundation
import Grammar
import Templates

/// Turns a chat request into the text a model reads: its chat template rendered with the messages
/// and tools (trying the message shapes templates disagree on), the start of a tool call that
/// `tool_choice` forces, and the grammar the reply must follow. Pure: no model, no tokens.
struct PromptBuilder: Sendable {
    let template: Template?
    /// Bounds on a rendering: loop iterations, macro call depth, output bytes.
    let limits: Template.Limits
    let toolFormat: ToolCallFormat
    let bosText: String
    let eosText: String
    /// Whether the template renders a request's `tools` (else they only reach the model through the
    /// system prompt, as Kibana's simulated function calling puts them).
    let rendersTools: Bool

    /// ChatML, for files without a template of their own.
    static let fallbackTemplate = """
    {%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}\
    {%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
    """

    /// `source`: the model's chat template (nil: ChatML). A template that does not parse is kept as
    /// nil, so that each chat request gets a clear 400 rather than the load failing.
    init(template source: String?, bosText: String, eosText: String, limits: Template.Limits = Template.Limits()) {
        let text = source ?? Self.fallbackTemplate
        self.limits = limits
        template = try? Template(text)
        toolFormat = ToolCallFormat(template: text)
        rendersTools = text.contains("tools")
        self.bosText = bosText
        self.eosText = eosText
    }

    struct Built: Equatable {
        /// The rendered prompt (the forced reply start not included).
        var text: String
        /// Text the reply is forced to begin with.
        var forcedReply = ""
        /// What the reply must follow (a tool call, the `response_format`'s JSON), if anything.
        var grammar: ReplyGrammar?
        /// The template opened a `<think>` block for the model.
        var startsInReasoning = false
    }

    func build(_ request: ChatRequest) throws -> Built {
        guard let template else { throw APIError.invalid("This model's chat template could not be parsed.", code: "template_error") }
        let tools = request.toolChoice == .none ? [] : request.tools
        let messages = toolFormat == .functools ? Self.functoolsMessages(request.messages, tools: tools) : request.messages
        var context: [String: Value] = [
            "messages": .array(messages), "add_generation_prompt": .bool(true),
            "bos_token": .string(bosText), "eos_token": .string(eosText),
        ]
        if !tools.isEmpty { context["tools"] = .array(tools) }
        var built = Built(text: try Self.render(template, context, messages: messages, limits: limits))
        built.startsInReasoning = built.text.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("<think>")
        // A required call to the only tool is a named call; among several, the name the model
        // writes is held to the tools' names.
        let names = request.toolNames
        let choice = request.toolChoice == .required && names.count == 1 ? .named(names.first!) : request.toolChoice
        built.forcedReply = toolFormat.forcedOpening(choice) ?? ""
        built.grammar = try replyGrammar(for: request, choice: choice, forcedReply: built.forcedReply, afterReasoning: built.startsInReasoning)
        return built
    }

    /// A call that `tool_choice` asks for; else the `response_format`'s JSON (after the reasoning,
    /// for a reply that starts in it); else, with tools on `auto`, any call the model opens. Nil: the
    /// reply is free.
    func replyGrammar(for request: ChatRequest, choice: ChatRequest.ToolChoice, forcedReply: String, afterReasoning: Bool = false) throws -> ReplyGrammar? {
        let tools = request.tools.isEmpty ? [] : request.functions
        if choice == .required || !forcedReply.isEmpty {
            return try toolFormat.callGrammar(tools: tools, choice: choice, forcedReply: forcedReply)
        }
        if let format = try Self.formatGrammar(request.responseFormat, afterReasoning: afterReasoning) { return format }
        return try toolFormat.callGrammar(tools: tools, choice: choice, forcedReply: forcedReply)
    }

    /// The grammar of a `response_format`: any JSON object, or JSON following the schema.
    /// `afterReasoning`: the model thinks freely first, and the JSON is held from its `</think>` on
    /// (with the newlines models write after it).
    static func formatGrammar(_ format: ChatRequest.ResponseFormat, afterReasoning: Bool = false) throws -> ReplyGrammar? {
        var grammar = Grammar()
        switch format {
        case .text: return nil
        case .jsonObject:
            let any = grammar.anyValue()
            grammar.root = grammar.add(.object(properties: [], required: 0, additional: any))
        case .jsonSchema(let schema):
            do {
                grammar.root = try JSONSchemaCompiler.compile(schema, into: &grammar, location: "response_format.json_schema.schema")
            } catch let error as SchemaError {
                throw APIError.invalid(error.message, param: "response_format")
            }
        }
        guard afterReasoning else { return ReplyGrammar(grammar: grammar) }
        let close = grammar.add(.choice(["</think>", "</think>\n", "</think>\n\n"].map { grammar.literal($0) }))
        grammar.root = grammar.add(.sequence([close, grammar.root]))
        return ReplyGrammar(grammar: grammar, trigger: "</think>")
    }

    /// Renders the template. Templates disagree on the shape of tool-call turns: most want the
    /// arguments as an object, some (DeepSeek-R1) join them as text; some need text content where
    /// OpenAI clients send null. When rendering fails, those variants are tried before giving up.
    static func render(_ template: Template, _ context: [String: Value], messages: [Value], limits: Template.Limits) throws -> String {
        let variants = [messages.map(Self.argumentsAsText), messages.map(Self.contentAsText),
                        messages.map { Self.contentAsText(Self.argumentsAsText($0)) }]
        do {
            return try template.render(context, limits: limits)
        } catch let error as TemplateError {
            for variant in variants where variant != messages {
                if let text = try? template.render(context.merging(["messages": .array(variant)]) { $1 }, limits: limits) { return text }
            }
            if case .raised(let message) = error {
                throw APIError.invalid("The chat template refused these messages: \(message)", code: "template_error")
            }
            throw APIError.invalid("The chat template could not render these messages: \(error)", code: "template_error")
        }
    }

    /// A message whose null content is empty text.
    static func contentAsText(_ message: Value) -> Value {
        guard case .object(var m) = message, m["content"] == Value.none else { return message }
        m["content"] = .string("")
        return .object(m)
    }

    /// A message with its tool calls' arguments as JSON text.
    static func argumentsAsText(_ message: Value) -> Value {
        guard case .object(var m) = message, case .array(let calls)? = m["tool_calls"] else { return message }
        m["tool_calls"] = .array(calls.map { call in
            guard case .object(var c) = call, case .object(var fn)? = c["function"], let arguments = fn["arguments"], case .object = arguments else { return call }
            fn["arguments"] = .string(arguments.compactJSON)
            c["function"] = .object(fn)
            return .object(c)
        })
        return .object(m)
    }
}
