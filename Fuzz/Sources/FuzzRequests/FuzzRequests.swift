import FuzzEntry
@testable import Server
import Templates

/// A request body as each API reads it: the JSON reader, then the chat/completions, completions,
/// embeddings, Responses, Anthropic Messages and Ollama chat/generate readers, down to the checked
/// `ChatRequest` each one makes. A 400 (`APIError`) is the expected answer to bad input.
func fuzzRequests(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let text = String(validating: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self),
          let body = try? FieldReader.object(json: text) else { return 0 }
    _ = try? ChatRequest(body: body, chat: true)
    _ = try? ChatRequest(body: body, chat: false)
    _ = try? EmbeddingsHandler.Request(body: body)
    if let chat = try? MessagesHandler.chatBody(body) { _ = try? ChatRequest(body: chat, chat: true) }
    if let (chat, _) = try? ResponsesHandler.chatBody(body, store: ResponseStore()) { _ = try? ChatRequest(body: chat, chat: true) }
    for translate in [OllamaChatHandler.chatBody, OllamaChatHandler.generateBody] {
        if let translated = try? translate(body) { _ = try? ChatRequest(body: translated.body, chat: translated.chat) }
    }
    _ = try? OllamaKeepAlive.parse(body["keep_alive"])
    return 0
}

@main struct Entry {
    static func main() { runFuzzer { data, size in data.map { fuzzRequests(UnsafeRawPointer($0), size) } ?? 0 } }
}
