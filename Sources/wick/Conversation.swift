/// A chat's turns, with the system prompt first.
struct Conversation {
    var system: String?
    private var turns: [[String: String]] = []

    init(system: String?) { self.system = system }

    mutating func add(role: String, _ text: String) { turns.append(["role": role, "content": text]) }
    mutating func clear() { turns = [] }

    var messages: [[String: String]] {
        (system.map { [["role": "system", "content": $0]] } ?? []) + turns
    }
}
