import Foundation

/// Reads TeaLeaf's own input decks (`tea.in`): the `*tea` ... `*endtea`
/// block, keywords and `key=value` pairs separated by spaces, `=` or `,`,
/// comments after `!` or `;`, case-insensitive, `\` continuing a line, and
/// `state N ...` lines. Defaults are TeaLeaf's (solver: Jacobi).
///
/// Unlike TeaLeaf, which skips words it does not know, an unknown keyword is
/// an error (with the closest known one), so a typo cannot silently change
/// the problem. Keywords that only choose TeaLeaf's implementation (tiles,
/// kernels, profiler) are accepted and have no effect here.
public enum TealeafDeck {
    static let valueKeywords = [
        "initial_timestep", "end_time", "end_step", "xmin", "xmax", "ymin", "ymax", "x_cells", "y_cells",
        "visit_frequency", "summary_frequency", "tiles_per_task", "sub_tiles_per_tile", "tiles_per_problem",
        "tl_ch_cg_presteps", "tl_ppcg_inner_steps", "tl_ch_cg_epslim", "tl_max_iters", "tl_eps", "halo_depth",
        "test_problem", "tl_preconditioner_type",
    ]
    static let flagKeywords = [
        "tl_check_result", "verbose_on", "tl_use_jacobi", "tl_use_cg", "tl_use_ppcg", "tl_use_chebyshev",
        "reflective_boundary", "profiler_on", "tl_coefficient_density", "tl_coefficient_inverse_density",
        "use_fortran_kernels", "use_c_kernels", "use_ext_kernels", "use_opencl_kernels", "use_cuda_kernels",
    ]
    static let stateKeywords = ["xmin", "xmax", "ymin", "ymax", "radius", "density", "energy", "geometry"]

    /// A word of the deck and where it is.
    struct Word {
        let text: String
        let line: Int
        let column: Int
    }

    /// Whether `text` is a TeaLeaf deck rather than JSON.
    static func isDeck(_ text: String) -> Bool {
        guard let first = text.first(where: { !$0.isWhitespace }) else { return false }
        return first != "{" && first != "[" && text.lowercased().contains("*tea")
    }

    public static func parse(_ text: String, fileName: String) throws(InputError) -> TealeafConfiguration {
        do {
            return try parseLines(text)
        } catch {
            var located = error
            located.file = fileName
            throw located
        }
    }

    /// The logical lines inside `*tea` ... `*endtea`, as words.
    static func lines(_ text: String) throws(InputError) -> [[Word]] {
        var result: [[Word]] = []
        var inside = false, closed = false, opened = false
        var pending: [Word] = []   // a line continued with "\"
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = String(raw.unicodeScalars.map { $0.value < 32 || $0.value > 127 ? " " : Character($0) })
            if let cut = line.firstIndex(where: { $0 == "!" || $0 == ";" }) { line = String(line[..<cut]) }
            line = line.lowercased()
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("*") {
                let tag = trimmed.split(separator: " ").first.map(String.init) ?? trimmed
                if tag == "*tea" {
                    if opened { throw InputError(key: nil, line: number, column: 1, message: "a second '*tea' block") }
                    inside = true; opened = true
                } else if tag == "*endtea" {
                    if !inside { throw InputError(key: nil, line: number, column: 1, message: "'*endtea' without '*tea'") }
                    inside = false; closed = true
                }
                continue
            }
            guard inside else { continue }
            var words: [Word] = []
            var column = 0, current = "", start = 0
            for ch in line + " " {
                column += 1
                if ch == " " || ch == "=" || ch == "," || ch == "\t" {
                    if !current.isEmpty { words.append(Word(text: current, line: number, column: start)); current = "" }
                } else {
                    if current.isEmpty { start = column }
                    current.append(ch)
                }
            }
            if words.last?.text == "\\" {
                pending += words.dropLast()
                continue
            }
            words = pending + words
            pending = []
            if !words.isEmpty { result.append(words) }
        }
        if !opened { throw InputError(key: nil, line: 1, column: 1, message: "no '*tea' block: not a TeaLeaf deck") }
        if !closed {
            let last = text.split(separator: "\n", omittingEmptySubsequences: false).count
            throw InputError(key: nil, line: last, column: 1, message: "'*tea' block without '*endtea'")
        }
        return result
    }

    private static func parseLines(_ text: String) throws(InputError) -> TealeafConfiguration {
        var c = TealeafConfiguration()
        var places: [String: (line: Int, column: Int)] = [:]
        var states: [Int: (TealeafConfiguration.State, Word)] = [:]
        var maxState = 0

        func number(_ word: Word?, after key: Word) throws(InputError) -> Double {
            guard let word else { throw InputError(key: nil, line: key.line, column: key.column, message: "'\(key.text)' needs a value") }
            // Fortran accepts d exponents (1.0d-15).
            guard let x = Double(word.text.replacingOccurrences(of: "d", with: "e")), x.isFinite else {
                throw InputError(key: nil, line: word.line, column: word.column,
                                 message: "'\(key.text)' needs a number, got '\(word.text)'")
            }
            return x
        }
        func integer(_ word: Word?, after key: Word, min lower: Int, max upper: Int = .max) throws(InputError) -> Int {
            guard let word else { throw InputError(key: nil, line: key.line, column: key.column, message: "'\(key.text)' needs a value") }
            guard let n = Int(word.text) else {
                throw InputError(key: nil, line: word.line, column: word.column,
                                 message: "'\(key.text)' needs an integer, got '\(word.text)'")
            }
            guard n >= lower else {
                throw InputError(key: nil, line: word.line, column: word.column,
                                 message: "'\(key.text)' must be at least \(lower), got \(n)")
            }
            guard n <= upper else {
                throw InputError(key: nil, line: word.line, column: word.column,
                                 message: "'\(key.text)' must be at most \(upper), got \(n)")
            }
            return n
        }
        func positive(_ x: Double, _ key: Word) throws(InputError) -> Double {
            guard x > 0 else { throw InputError(key: nil, line: key.line, column: key.column, message: "'\(key.text)' must be > 0, got \(x)") }
            return x
        }
        func unknown(_ word: Word, among known: [String], what: String) -> InputError {
            let hint = closest(to: word.text, among: known).map { "; did you mean '\($0)'?" } ?? ""
            return InputError(key: nil, line: word.line, column: word.column, message: "unknown \(what) '\(word.text)'\(hint)")
        }

        for words in try lines(text) {
            var k = 0
            func next() -> Word? { k += 1; return k < words.count ? words[k] : nil }
            while k < words.count {
                let key = words[k]
                places[key.text] = (key.line, key.column)
                switch key.text {
                case "state":
                    let n = try integer(next(), after: key, min: 1)
                    if states[n] != nil {
                        throw InputError(key: nil, line: key.line, column: key.column, message: "state \(n) is defined twice")
                    }
                    states[n] = (try readState(words: Array(words[(k + 1)...]), number: n, keyword: key), key)
                    maxState = max(maxState, n)
                    k = words.count
                    continue
                case "initial_timestep": c.initialTimestep = try positive(number(next(), after: key), key)
                case "end_time": c.endTime = try positive(number(next(), after: key), key)
                case "end_step": c.endStep = try integer(next(), after: key, min: 1)
                case "xmin": c.grid.xmin = try number(next(), after: key)
                case "xmax": c.grid.xmax = try number(next(), after: key)
                case "ymin": c.grid.ymin = try number(next(), after: key)
                case "ymax": c.grid.ymax = try number(next(), after: key)
                case "x_cells": c.grid.xCells = try integer(next(), after: key, min: 1, max: GridLimits.maxPointsPerAxis)
                case "y_cells": c.grid.yCells = try integer(next(), after: key, min: 1, max: GridLimits.maxPointsPerAxis)
                case "visit_frequency": c.output.every = try integer(next(), after: key, min: 0)
                case "summary_frequency": c.output.summaryEvery = try integer(next(), after: key, min: 0)
                case "tiles_per_task", "sub_tiles_per_tile", "tiles_per_problem": _ = try integer(next(), after: key, min: 1)
                case "tl_ch_cg_presteps": c.solver.cgPresteps = try integer(next(), after: key, min: 1)
                case "tl_ppcg_inner_steps": c.solver.ppcgInnerSteps = try integer(next(), after: key, min: 1)
                case "tl_ch_cg_epslim": c.solver.cgEpslim = try positive(number(next(), after: key), key)
                case "tl_max_iters": c.solver.maxIters = try integer(next(), after: key, min: 1)
                case "tl_eps": c.solver.eps = try positive(number(next(), after: key), key)
                case "halo_depth": c.solver.haloDepth = try integer(next(), after: key, min: 1)
                case "test_problem": c.testProblem = try integer(next(), after: key, min: 1)
                case "tl_preconditioner_type":
                    guard let kind = next() else {
                        throw InputError(key: nil, line: key.line, column: key.column, message: "'tl_preconditioner_type' needs a value")
                    }
                    switch kind.text {
                    case "none": c.solver.preconditioner = .none
                    case "jac_diag": c.solver.preconditioner = .jacDiag
                    case "jac_block":
                        throw InputError(key: nil, line: kind.line, column: kind.column,
                                         message: "the block Jacobi preconditioner 'jac_block' is not supported; use 'jac_diag' or 'none'")
                    default: throw unknown(kind, among: ["none", "jac_diag", "jac_block"], what: "preconditioner")
                    }
                case "tl_use_jacobi": c.solver.method = .jacobi
                case "tl_use_cg": c.solver.method = .cg
                case "tl_use_ppcg": c.solver.method = .ppcg
                case "tl_use_chebyshev": c.solver.method = .chebyshev
                case "tl_coefficient_density": c.solver.coefficient = .conductivity
                case "tl_coefficient_inverse_density": c.solver.coefficient = .recipConductivity
                case _ where flagKeywords.contains(key.text): break   // no effect here
                default:
                    throw unknown(key, among: valueKeywords + flagKeywords + ["state"], what: "keyword")
                }
                k += 1
            }
        }
        guard maxState >= 1 else {
            throw InputError(key: nil, line: 1, column: 1, message: "no states defined (state 1 is the background)")
        }
        for n in 1...maxState {
            guard let (state, _) = states[n] else {
                let (_, after) = states.filter { $0.key > n }.min { $0.key < $1.key }!.value
                throw InputError(key: nil, line: after.line, column: after.column, message: "state \(n) is not defined")
            }
            c.states.append(n == 1 ? .init(density: state.density, energy: state.energy, geometry: .background) : state)
        }
        let statePlaces = states.mapValues { ($0.1.line, $0.1.column) }
        try c.validate { key in
            if key.hasPrefix("states[") {
                let n = Int(key.dropFirst(7).prefix { $0.isNumber }) ?? 0
                return statePlaces[n + 1] ?? (1, 1)
            }
            // "grid.xmax" was written as the keyword "xmax".
            let word = key.split(separator: ".").last.map(String.init) ?? key
            return places[word] ?? (1, 1)
        }
        return c
    }

    private static func readState(words: [Word], number n: Int, keyword: Word) throws(InputError) -> TealeafConfiguration.State {
        var values: [String: Double] = [:]
        var geometry: String? = nil
        var k = 0
        while k < words.count {
            let key = words[k]
            guard stateKeywords.contains(key.text) else { throw unknownStateKey(key) }
            guard k + 1 < words.count else {
                throw InputError(key: nil, line: key.line, column: key.column, message: "state \(n): '\(key.text)' needs a value")
            }
            let value = words[k + 1]
            if key.text == "geometry" {
                guard ["rectangle", "circle", "point"].contains(value.text) else {
                    let hint = closest(to: value.text, among: ["rectangle", "circle", "point"]).map { "; did you mean '\($0)'?" } ?? ""
                    throw InputError(key: nil, line: value.line, column: value.column,
                                     message: "state \(n): unknown geometry '\(value.text)'\(hint)")
                }
                geometry = value.text
            } else {
                guard let x = Double(value.text.replacingOccurrences(of: "d", with: "e")), x.isFinite else {
                    throw InputError(key: nil, line: value.line, column: value.column,
                                     message: "state \(n): '\(key.text)' needs a number, got '\(value.text)'")
                }
                values[key.text] = x
            }
            k += 2
        }
        func value(_ name: String) throws(InputError) -> Double {
            guard let x = values[name] else {
                throw InputError(key: nil, line: keyword.line, column: keyword.column, message: "state \(n): '\(name)' is missing")
            }
            return x
        }
        let density = try value("density"), energy = values["energy"] ?? 0
        if n == 1 { return .init(density: density, energy: energy, geometry: .background) }
        switch geometry {
        case "rectangle":
            return .init(density: density, energy: energy,
                         geometry: .rectangle(xmin: try value("xmin"), xmax: try value("xmax"), ymin: try value("ymin"), ymax: try value("ymax")))
        case "circle":
            return .init(density: density, energy: energy,
                         geometry: .circle(x: try value("xmin"), y: try value("ymin"), radius: try value("radius")))
        case "point":
            return .init(density: density, energy: energy, geometry: .point(x: try value("xmin"), y: try value("ymin")))
        default:
            throw InputError(key: nil, line: keyword.line, column: keyword.column,
                             message: "state \(n): 'geometry' is missing (rectangle, circle or point)")
        }
    }

    private static func unknownStateKey(_ key: Word) -> InputError {
        let hint = closest(to: key.text, among: stateKeywords).map { "; did you mean '\($0)'?" } ?? ""
        return InputError(key: nil, line: key.line, column: key.column, message: "unknown state keyword '\(key.text)'\(hint)")
    }
}
