import Foundation

/// Reads the members of one JSON object with type and range checks, and
/// rejects keys it was not asked about (with the closest known key).
/// Every accessor throws an `InputError` that names the full key path.
public struct ObjectReader {
    public let node: JSONNode
    public let path: String
    private let members: [(key: String, value: JSONNode)]

    public init(_ node: JSONNode, path: String) throws(InputError) {
        guard case .object(let members) = node.value else {
            throw InputError("must be an object, got \(node.typeName)", at: node, key: path.isEmpty ? nil : path)
        }
        self.node = node
        self.path = path
        self.members = members
    }

    public func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func contains(_ key: String) -> Bool { members.contains { $0.key == key } }

    public func member(_ key: String) -> JSONNode? { members.first { $0.key == key }?.value }

    /// Rejects members other than `known`. `elsewhere` maps keys that belong in
    /// another section to that section, for a better hint.
    public func rejectUnknownKeys(known: [String], elsewhere: [String: String] = [:]) throws(InputError) {
        for (key, value) in members where !known.contains(key) {
            var hint = ""
            if let section = elsewhere[key] {
                hint = "; it belongs in '\(section)'"
            } else if let guess = closest(to: key, among: known) {
                hint = "; did you mean '\(keyPath(guess))'?"
            } else {
                hint = "; known keys: " + known.map { "'\(keyPath($0))'" }.joined(separator: ", ")
            }
            throw InputError("unknown key '\(keyPath(key))'\(hint)", at: value, key: nil)
        }
    }

    // MARK: Typed accessors

    public func object(_ key: String) throws(InputError) -> ObjectReader? {
        guard let value = member(key) else { return nil }
        return try ObjectReader(value, path: keyPath(key))
    }

    public func integer(_ key: String, default fallback: Int? = nil, min lower: Int? = nil,
                        max upper: Int? = nil) throws(InputError) -> Int {
        guard let value = member(key) else {
            if let fallback { return fallback }
            throw missing(key)
        }
        return try Self.integer(value, key: keyPath(key), min: lower, max: upper)
    }

    static func integer(_ value: JSONNode, key: String, min lower: Int? = nil, max upper: Int? = nil) throws(InputError) -> Int {
        let expectation = Self.integerExpectation(min: lower, max: upper)
        guard case .number(let text) = value.value, JSONNode.isIntegerLiteral(text) else {
            throw InputError("must be \(expectation), got \(Self.describe(value))", at: value, key: key)
        }
        guard let n = Int(text) else {
            throw InputError("\(text) is out of range (must be \(expectation))", at: value, key: key)
        }
        if let lower, n < lower { throw InputError("must be \(expectation), got \(n)", at: value, key: key) }
        if let upper, n > upper { throw InputError("must be \(expectation), got \(n)", at: value, key: key) }
        return n
    }

    private static func integerExpectation(min lower: Int?, max upper: Int?) -> String {
        switch (lower, upper) {
        case let (l?, u?): "an integer from \(l) to \(u)"
        case (1?, nil): "a positive integer"
        case (0?, nil): "an integer >= 0"
        case let (l?, nil): "an integer >= \(l)"
        case let (nil, u?): "an integer <= \(u)"
        case (nil, nil): "an integer"
        }
    }

    /// A finite number; `exclusiveMin` makes the lower bound strict.
    public func number(_ key: String, default fallback: Double? = nil, min lower: Double? = nil,
                       exclusiveMin: Bool = false, max upper: Double? = nil) throws(InputError) -> Double {
        guard let value = member(key) else {
            if let fallback { return fallback }
            throw missing(key)
        }
        return try Self.number(value, key: keyPath(key), min: lower, exclusiveMin: exclusiveMin, max: upper)
    }

    static func number(_ value: JSONNode, key: String, min lower: Double? = nil, exclusiveMin: Bool = false,
                       max upper: Double? = nil) throws(InputError) -> Double {
        var expectation = "a number"
        if let lower { expectation += exclusiveMin ? (lower == 0 ? " > 0" : " > \(lower)") : " >= \(lower)" }
        if let upper { expectation += (lower == nil ? "" : " and") + " <= \(upper)" }
        guard case .number(let text) = value.value, let x = Double(text), x.isFinite else {
            throw InputError("must be \(expectation), got \(Self.describe(value))", at: value, key: key)
        }
        if let lower, exclusiveMin ? !(x > lower) : x < lower {
            throw InputError("must be \(expectation), got \(text)", at: value, key: key)
        }
        if let upper, x > upper { throw InputError("must be \(expectation), got \(text)", at: value, key: key) }
        return x
    }

    /// A number, or null (returned as nil).
    public func optionalNumber(_ key: String, min lower: Double? = nil, exclusiveMin: Bool = false) throws(InputError) -> Double? {
        guard let value = member(key) else { return nil }
        if case .null = value.value { return nil }
        do {
            return try Self.number(value, key: keyPath(key), min: lower, exclusiveMin: exclusiveMin)
        } catch {
            throw InputError(error.message.replacingOccurrences(of: "must be a number", with: "must be null or a number"),
                             at: value, key: keyPath(key))
        }
    }

    public func string(_ key: String, default fallback: String? = nil) throws(InputError) -> String {
        guard let value = member(key) else {
            if let fallback { return fallback }
            throw missing(key)
        }
        guard case .string(let s) = value.value else {
            throw InputError("must be a string, got \(Self.describe(value))", at: value, key: keyPath(key))
        }
        return s
    }

    /// A string from a fixed set of choices, matched exactly.
    public func choice(_ key: String, among choices: [String], default fallback: String? = nil) throws(InputError) -> String {
        let s = try string(key, default: fallback)
        guard choices.contains(s) else {
            let value = member(key)!
            let options = choices.map { "'\($0)'" }.joined(separator: ", ")
            let guess = closest(to: s, among: choices).map { "; did you mean '\($0)'?" } ?? ""
            throw InputError("must be one of \(options), got '\(s)'\(guess)", at: value, key: keyPath(key))
        }
        return s
    }

    public enum ChoiceOrInteger: Equatable {
        case choice(String), integer(Int)
    }

    /// One of a fixed set of strings, or an integer in a range.
    public func choiceOrInteger(_ key: String, among choices: [String], min lower: Int, max upper: Int,
                                default fallback: ChoiceOrInteger) throws(InputError) -> ChoiceOrInteger {
        guard let value = member(key) else { return fallback }
        switch value.value {
        case .string: return .choice(try choice(key, among: choices))
        case .number: return .integer(try Self.integer(value, key: keyPath(key), min: lower, max: upper))
        default:
            let options = choices.map { "'\($0)'" }.joined(separator: ", ")
            throw InputError("must be one of \(options) or \(Self.integerExpectation(min: lower, max: upper)), "
                             + "got \(Self.describe(value))", at: value, key: keyPath(key))
        }
    }

    public func bool(_ key: String, default fallback: Bool? = nil) throws(InputError) -> Bool {
        guard let value = member(key) else {
            if let fallback { return fallback }
            throw missing(key)
        }
        guard case .bool(let b) = value.value else {
            throw InputError("must be true or false, got \(Self.describe(value))", at: value, key: keyPath(key))
        }
        return b
    }

    /// An array of exactly `count` elements read by `element`.
    public func array<T>(_ key: String, count: Int, default fallback: [T]? = nil,
                         element: (JSONNode, String) throws(InputError) -> T) throws(InputError) -> [T] {
        guard let value = member(key) else {
            if let fallback { return fallback }
            throw missing(key)
        }
        guard case .array(let elements) = value.value, elements.count == count else {
            throw InputError("must be an array of \(count) elements, got \(Self.describe(value))", at: value, key: keyPath(key))
        }
        var result: [T] = []
        for (k, e) in elements.enumerated() { result.append(try element(e, "\(keyPath(key))[\(k)]")) }
        return result
    }

    private func missing(_ key: String) -> InputError {
        InputError("is missing", at: node, key: keyPath(key))
    }

    /// "a string (\"abc\")", "an array of 3 elements", "-5", ...
    static func describe(_ value: JSONNode) -> String {
        switch value.value {
        case .number(let text): return text
        case .string(let s): return "the string '\(s)'"
        case .array(let elements): return "an array of \(elements.count) element\(elements.count == 1 ? "" : "s")"
        default: return value.typeName
        }
    }
}
