import FuzzEntry
import Templates

/// A chat template (a GGUF's Jinja source is code from the internet): lexed, parsed and rendered
/// with a conversation that has tools, tool calls and reasoning, under the default limits on loops,
/// recursion and output. Template errors are expected; crashes and hangs are not.
func fuzzTemplates(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let source = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    guard let template = try? Template(source) else { return 0 }
    _ = try? template.render(context)
    return 0
}

private let context: [String: Value] = {
    let json = #"""
    {"messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": "", "reasoning_content": "Use the tool.",
                   "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": {"city": "Paris"}}}]},
                  {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 21}"}, {"role": "assistant", "content": "21 °C."}],
     "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather now",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
     "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"}
    """#
    guard case .object(let o)? = try? Value(jsonText: json) else { return [:] }
    return Dictionary(uniqueKeysWithValues: o.pairs.map { ($0.0, $0.1) })
}()

@main struct Entry {
    static func main() { runFuzzer { data, size in data.map { fuzzTemplates(UnsafeRawPointer($0), size) } ?? 0 } }
}
