/// `--set KEY.PATH=VALUE`: one input key set from the command line, for
/// parameter sweeps without editing the input.
///
/// The value is read as JSON where it is JSON (`512`, `1e-3`, `true`,
/// `null`, `[4, 2]`, `"text"`), else as a string (`periodic`, `run 1.h5`).
/// It replaces the key in the input document, or adds it (and any section
/// on its path), before the input is checked: the same checks and messages
/// as the file's, placed at the `--set` that gave the value. A TeaLeaf deck
/// takes the keys of the JSON form of TeaLeaf inputs (`grid.x_cells`,
/// `solver.eps`, `states[1].density`), as its results file records them.
public struct InputOverride: Sendable {
    enum Step: Sendable {
        case key(String)
        case index(Int)
    }

    /// As given: "grid.nx=512".
    public let text: String
    let path: [Step]
    let value: JSONNode.Value

    /// Parses "KEY.PATH=VALUE"; nil when it is not of that form.
    public init?(_ text: String) {
        guard let equals = text.firstIndex(of: "=") else { return nil }
        let key = String(text[..<equals]), literal = String(text[text.index(after: equals)...])
        guard let path = Self.parsePath(key) else { return nil }
        self.text = text
        self.path = path
        value = (try? JSONParser.parse(literal).value) ?? .string(literal)
    }

    /// "states[1].density" -> key states, index 1, key density.
    private static func parsePath(_ key: String) -> [Step]? {
        var steps: [Step] = []
        for part in key.split(separator: ".", omittingEmptySubsequences: false) {
            var rest = Substring(part)
            guard let name = rest.split(separator: "[", maxSplits: 1, omittingEmptySubsequences: false).first,
                  !name.isEmpty else { return nil }
            steps.append(.key(String(name)))
            rest = rest.dropFirst(name.count)
            while !rest.isEmpty {
                guard rest.first == "[", let close = rest.firstIndex(of: "]"),
                      let index = Int(rest[rest.index(after: rest.startIndex)..<close]), index >= 0 else { return nil }
                steps.append(.index(index))
                rest = rest[rest.index(after: close)...]
            }
        }
        return steps.isEmpty ? nil : steps
    }

    /// The document with this key set.
    func applied(to document: JSONNode) throws(InputError) -> JSONNode {
        var value = JSONNode(self.value)
        value.origin = "--set \(text)"
        // A bare key that the document has only inside a section ("x_cells",
        // a deck's keyword, is grid.x_cells): name the full path.
        if path.count == 1, case .key(let name) = path[0], document[name] == nil,
           let full = Self.paths(in: document).first(where: { $0.hasSuffix(".\(name)") }) {
            throw InputError(file: "--set \(text)", key: nil, message: "unknown key '\(name)'; did you mean '\(full)'?")
        }
        return try set(path[...], to: value, in: document, at: "")
    }

    /// Key paths of the members of the document's sections, in order.
    private static func paths(in node: JSONNode, at prefix: String = "") -> [String] {
        guard case .object(let members) = node.value else { return [] }
        return members.flatMap { member -> [String] in
            let here = prefix.isEmpty ? member.key : "\(prefix).\(member.key)"
            return [here] + paths(in: member.value, at: here)
        }
    }

    private func set(_ steps: ArraySlice<Step>, to value: JSONNode, in node: JSONNode, at done: String) throws(InputError)
        -> JSONNode {
        guard let step = steps.first else { return value }
        var result = node
        switch (step, node.value) {
        case (.key(let name), .object(var members)):
            let here = done.isEmpty ? name : "\(done).\(name)"
            if let k = members.firstIndex(where: { $0.key == name }) {
                members[k].value = try set(steps.dropFirst(), to: value, in: members[k].value, at: here)
            } else {
                var added = try set(steps.dropFirst(), to: value, in: JSONNode(.object([])), at: here)
                added.origin = added.origin ?? value.origin
                members.append((name, added))
            }
            result.value = .object(members)
        case (.index(let k), .array(var elements)):
            let here = "\(done)[\(k)]"
            guard k < elements.count else {
                throw InputError(file: "--set \(text)", key: nil, message: "'\(done)' has \(elements.count) elements, no \(here)")
            }
            elements[k] = try set(steps.dropFirst(), to: value, in: elements[k], at: here)
            result.value = .array(elements)
        default:
            let kind = if case .index = step { "an array" } else { "a section" }
            throw InputError(file: "--set \(text)", key: nil, message: "'\(done.isEmpty ? "the input" : done)' is not \(kind)")
        }
        return result
    }
}
