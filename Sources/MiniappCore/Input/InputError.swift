/// An error in the input, located by key path and source position:
/// "heat.json:4:11: grid.nx: must be an integer >= 1, got -5".
public struct InputError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public let key: String?
    public let line: Int
    public let column: Int
    public let message: String

    public init(file: String = "", key: String?, line: Int = 0, column: Int = 0, message: String) {
        self.file = file
        self.key = key
        self.line = line
        self.column = column
        self.message = message
    }

    /// An error about the value of `key`, placed at the key where it has one
    /// (a member of an object), else at the value (an element of an array).
    /// A value given on the command line (`node.origin`) is placed there instead.
    public init(_ message: String, at node: JSONNode, key: String?) {
        if let origin = node.origin {
            self.init(file: origin, key: key, message: message)
        } else {
            let (line, column) = node.keyLine > 0 ? (node.keyLine, node.keyColumn) : (node.line, node.column)
            self.init(key: key, line: line, column: column, message: message)
        }
    }

    /// "FILE:LINE:COL: 'grid.nx' must be ...", as compilers place their errors.
    public var description: String {
        var where_ = file
        if line > 0 { where_ += (where_.isEmpty ? "" : ":") + "\(line):\(column)" }
        let prefix = where_.isEmpty ? "" : where_ + ": "
        return prefix + (key.map { "'\($0)' " } ?? "") + message
    }
}

/// Edit distance, for "did you mean" suggestions.
func levenshtein(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = previous
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
func closest(to word: String, among candidates: [String]) -> String? {
    let scored = candidates.map { ($0, levenshtein(word, $0)) }.min { $0.1 < $1.1 }
    guard let (best, distance) = scored else { return nil }
    let limit = max(2, min(word.count, best.count) / 3)
    let prefixMatch = best.lowercased().hasPrefix(word.lowercased()) || word.lowercased().hasPrefix(best.lowercased())
    return distance <= limit || prefixMatch ? best : nil
}
