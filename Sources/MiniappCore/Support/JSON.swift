import Foundation

/// A JSON document with the source position of every value, so that input
/// errors can say where they are ("heat.json:4:11"). Numbers keep their
/// literal text: 512 is an integer, 512.0 and 5e2 are not.
public struct JSONNode: Sendable {
    public indirect enum Value: Sendable {
        case null
        case bool(Bool)
        case number(String)
        case string(String)
        case array([JSONNode])
        /// Members in source order (keys are unique: duplicates are rejected).
        case object([(key: String, value: JSONNode)])
    }

    public var value: Value
    public var line: Int
    public var column: Int
    /// Where the key of a member stands (0: not a member): input errors point there.
    public var keyLine = 0
    public var keyColumn = 0
    /// Where a value that is not from the file came from ("--set grid.nx=512"): errors name it instead.
    public var origin: String? = nil

    public init(_ value: Value, line: Int = 0, column: Int = 0) {
        self.value = value
        self.line = line
        self.column = column
    }

    public var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    /// The member `key` of an object, if any.
    public subscript(key: String) -> JSONNode? {
        if case .object(let members) = value { return members.first { $0.key == key }?.value }
        return nil
    }

    /// A short name of the value's type, for messages.
    public var typeName: String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number(let text): JSONNode.isIntegerLiteral(text) ? "an integer" : "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    static func isIntegerLiteral(_ text: String) -> Bool {
        !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
    }
}

/// A syntax error, with the 1-based line and column where it was found.
public struct JSONSyntaxError: Error, Sendable {
    public let message: String
    public let line: Int
    public let column: Int
}

/// A strict JSON parser (RFC 8259): no comments, no trailing commas, no NaN.
public struct JSONParser {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0

    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONNode {
        var parser = JSONParser(bytes: Array(text.utf8))
        return try parser.document()
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private var column: Int { index - lineStart + 1 }

    private func fail(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(message: message, line: line, column: column)
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private var currentDescription: String {
        guard let c = current else { return "end of input" }
        if c >= 0x20 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return String(format: "byte 0x%02X", c)
    }

    private mutating func skipWhitespace() {
        while let c = current {
            switch c {
            case 0x20, 0x09, 0x0D: index += 1
            case 0x0A: index += 1; line += 1; lineStart = index
            default: return
            }
        }
    }

    private mutating func document() throws(JSONSyntaxError) -> JSONNode {
        skipWhitespace()
        if index == 0 && bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3; lineStart = 3; skipWhitespace() }
        let node = try value(depth: 0)
        skipWhitespace()
        if current != nil { throw fail("unexpected \(currentDescription) after the end of the document") }
        return node
    }

    private mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONNode {
        guard depth < 200 else { throw fail("nesting is too deep") }
        let (l, c) = (line, column)
        guard let byte = current else { throw fail("expected a value, found end of input") }
        switch byte {
        case UInt8(ascii: "{"): return JSONNode(try object(depth: depth), line: l, column: c)
        case UInt8(ascii: "["): return JSONNode(try array(depth: depth), line: l, column: c)
        case UInt8(ascii: "\""): return JSONNode(.string(try string()), line: l, column: c)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return JSONNode(.number(try number()), line: l, column: c)
        case UInt8(ascii: "t"): try literal("true"); return JSONNode(.bool(true), line: l, column: c)
        case UInt8(ascii: "f"): try literal("false"); return JSONNode(.bool(false), line: l, column: c)
        case UInt8(ascii: "n"): try literal("null"); return JSONNode(.null, line: l, column: c)
        default: throw fail("expected a value, found \(currentDescription)")
        }
    }

    private mutating func literal(_ word: String) throws(JSONSyntaxError) {
        for expected in word.utf8 {
            guard current == expected else { throw fail("invalid literal (expected '\(word)')") }
            index += 1
        }
    }

    private mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONNode.Value {
        index += 1  // {
        var members: [(key: String, value: JSONNode)] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else {
                throw fail("expected a quoted key, found \(currentDescription)")
            }
            let (keyLine, keyColumn) = (line, column)
            let key = try string()
            if members.contains(where: { $0.key == key }) {
                throw JSONSyntaxError(message: "duplicate key '\(key)'", line: keyLine, column: keyColumn)
            }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw fail("expected ':' after key '\(key)', found \(currentDescription)") }
            index += 1
            skipWhitespace()
            var member = try value(depth: depth + 1)
            (member.keyLine, member.keyColumn) = (keyLine, keyColumn)
            members.append((key, member))
            skipWhitespace()
            if current == UInt8(ascii: ",") { index += 1; continue }
            if current == UInt8(ascii: "}") { index += 1; return .object(members) }
            throw fail("expected ',' or '}' after the value of '\(key)', found \(currentDescription)")
        }
    }

    private mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONNode.Value {
        index += 1  // [
        var elements: [JSONNode] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { index += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth + 1))
            skipWhitespace()
            if current == UInt8(ascii: ",") { index += 1; continue }
            if current == UInt8(ascii: "]") { index += 1; return .array(elements) }
            throw fail("expected ',' or ']' in array, found \(currentDescription)")
        }
    }

    private mutating func number() throws(JSONSyntaxError) -> String {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        func digits(_ p: inout JSONParser) -> Int {
            var n = 0
            while let c = p.current, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { p.index += 1; n += 1 }
            return n
        }
        if current == UInt8(ascii: "0") {
            index += 1
            if let c = current, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { throw fail("leading zeros are not allowed in numbers") }
        } else if digits(&self) == 0 {
            throw fail("invalid number")
        }
        if current == UInt8(ascii: ".") {
            index += 1
            if digits(&self) == 0 { throw fail("expected digits after the decimal point") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            if digits(&self) == 0 { throw fail("expected digits in the exponent") }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private mutating func string() throws(JSONSyntaxError) -> String {
        index += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard let c = current else { throw fail("unterminated string") }
            switch c {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                guard let e = current else { throw fail("unterminated string") }
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard current == UInt8(ascii: "\\") else { throw fail("unpaired surrogate in \\u escape") }
                        index += 1
                        guard current == UInt8(ascii: "u") else { throw fail("unpaired surrogate in \\u escape") }
                        index += 1
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    index -= 1
                    throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                }
            case 0..<0x20:
                throw fail("control character in string (use \\n, \\t, ...)")
            default:
                out.append(c)
                index += 1
            }
        }
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let c = current else { throw fail("unterminated \\u escape") }
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v * 16 + d
            index += 1
        }
        return v
    }
}

// MARK: - Writing

extension JSONNode {
    /// This object with one more member at its end (other nodes unchanged).
    package func adding(_ key: String, _ member: JSONNode) -> JSONNode {
        guard case .object(let members) = value else { return self }
        var copy = self
        copy.value = .object(members + [(key: key, value: member)])
        return copy
    }

    /// Pretty-printed JSON (2-space indent, members in order).
    public func serialized(indent: Int = 0) -> String {
        let pad = String(repeating: " ", count: indent)
        let inner = String(repeating: " ", count: indent + 2)
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let text): return text
        case .string(let s): return JSONNode.quoted(s)
        case .array(let elements):
            // Arrays of scalars stay on one line: [1, 1].
            if elements.allSatisfy({ if case .array = $0.value { false } else if case .object = $0.value { false } else { true } }) {
                return "[" + elements.map { $0.serialized() }.joined(separator: ", ") + "]"
            }
            return "[\n" + elements.map { inner + $0.serialized(indent: indent + 2) }.joined(separator: ",\n") + "\n\(pad)]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            return "{\n" + members.map { inner + JSONNode.quoted($0.key) + ": " + $0.value.serialized(indent: indent + 2) }
                .joined(separator: ",\n") + "\n\(pad)}"
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    // Builders for the effective input.
    public static func int(_ v: Int) -> JSONNode { JSONNode(.number(String(v))) }
    public static func double(_ v: Double) -> JSONNode {
        // Shortest text that reads back to the same double ("0.9", "1e-05").
        JSONNode(.number(v == v.rounded() && abs(v) < 1e15 ? String(format: "%.1f", v) : "\(v)"))
    }
    public static func string(_ v: String) -> JSONNode { JSONNode(.string(v)) }
    public static func bool(_ v: Bool) -> JSONNode { JSONNode(.bool(v)) }
    public static var null: JSONNode { JSONNode(.null) }
    public static func array(_ v: [JSONNode]) -> JSONNode { JSONNode(.array(v)) }
    public static func object(_ v: [(String, JSONNode)]) -> JSONNode { JSONNode(.object(v.map { (key: $0.0, value: $0.1) })) }
}
