import Foundation
@testable import MiniappCore
import Testing
import TestSupport

/// Thousands of mutated inputs, JSON and TeaLeaf decks, through the parser
/// and the validator: each must give a clean `InputError` or a configuration
/// that keeps every invariant the run relies on (a crash fails the suite).
/// The mutations are reproducible: a fixed seed per input.
@Suite struct InputFuzzTests {
    static let jsonSeeds = ["heat.json", "heat-periodic.json", "heat-gaussian.json", "bench-4096.json", "tea_bm_1.json",
                            "tea_bm_2.json", "integrate.json"]
    static let deckSeeds = ["tea_bm_1.in", "tea_bm_2.in"]

    @Test(arguments: jsonSeeds) func mutatedJSON(seed name: String) throws {
        try fuzz(name, mutations: 1500, alphabet: Array("{}[]:,\"-+.eE0123456789 \nabcnultrxyz_\\"))
    }

    @Test(arguments: deckSeeds) func mutatedDecks(seed name: String) throws {
        try fuzz(name, mutations: 3000, alphabet: Array("*= \n.-+eE0123456789abcdefghijklmnopqrstuvwxyz_!"))
    }

    @Test func pathologicalDocuments() {
        let cases = [
            "", " ", "{", "}", "[", "\"", "{\"problem\": ", String(repeating: "[", count: 100_000),
            "{\"problem\": \"heat\", \"grid\": " + String(repeating: "{\"a\": ", count: 50_000),
            "{\"problem\": \"heat\", \"grid\": {\"nx\": 1e999999, \"ny\": 2}}",
            "{\"problem\": \"heat\", \"grid\": {\"nx\": 99999999999999999999999999, \"ny\": 2}}",
            "{\"problem\": \"heat\", \"grid\": {\"nx\": -9223372036854775808, \"ny\": 2}}",
            "{\"problem\": \"heat\", \"grid\": {\"nx\": 2147483648, \"ny\": 2147483648}, \"time\": {\"steps\": 9223372036854775807}}",
            "{\"problem\": \"heat\", \"grid\": {\"nx\": 4, \"ny\": 4, \"lx\": 1e-320, \"ly\": 1e308}}",
            "{\"problem\": \"heat\", \"grid\": {\"nx\": 4, \"ny\": 4}, \"physics\": {\"alpha\": 1e-320}}",
            "{\"problem\": \"heat\", \"grid\": {\"nx\": 4, \"ny\": 4}, \"time\": {\"dt\": 5e-324}}",
            "{\"problem\": \"heat\", \"grid\": {\"nx\": 4, \"ny\": 4}, \"initial\": {\"type\": \"gaussian\", \"width\": 5e-324}}",
            "{\"problem\": \"heat\", \"grid\": {\"nx\": 4, \"ny\": 4}, \"output\": {\"path\": \"\\u0000\"}}",
            "{\"problem\": \"heat\", \"grid\": {\"nx\": 4, \"ny\": 4}, \"\\ud800\": 1}",
            "*tea\nx_cells=99999999999999999999\n*endtea", "*tea\nstate 1 density=1e400 energy=1\n*endtea",
            "*tea\nstate 99999999999999999999 density=1 energy=1\n*endtea", "*tea\nstate -1\n*endtea",
            "*tea\ntl_max_iters=-5\n*endtea", "*tea\n" + String(repeating: "state 1 density=1 energy=1\n", count: 5000) + "*endtea",
        ]
        for text in cases { check(text, fileName: "case") }
    }

    // MARK: The fuzzer

    private func fuzz(_ name: String, mutations: Int, alphabet: [Character]) throws {
        let original = try readInput(name)
        var random = SplitMix64(state: UInt64(truncatingIfNeeded: name.utf8.reduce(5381) { $0 &* 33 &+ Int($1) }))
        var valid = 0
        for _ in 0..<mutations {
            var text = original
            for _ in 0..<(1 + random.next(below: 3)) { text = mutate(text, alphabet: alphabet, random: &random) }
            if check(text, fileName: name) { valid += 1 }
        }
        // Some mutations (whitespace, equal values) leave a valid input: the
        // validator was reached, not only the parser.
        #expect(valid > 0, "no mutation of \(name) stayed valid")
    }

    /// Parses `text`; returns whether it was valid. Fails the test if an
    /// error is not an `InputError` with a message, or a valid configuration
    /// breaks an invariant.
    @discardableResult
    private func check(_ text: String, fileName: String) -> Bool {
        do throws(InputError) {
            let input = try ProblemInput.parse(text, fileName: fileName)
            checkInvariants(input, text: text)
            return true
        } catch {
            #expect(!error.message.isEmpty)
            #expect(error.line >= 0 && error.column >= 0)
            #expect(error.description.hasPrefix(fileName))
            return false
        }
    }

    private func checkInvariants(_ input: ProblemInput, text: String) {
        switch input.problem {
        case let c as HeatConfiguration:
            #expect(c.grid.nx >= 1 && c.grid.ny >= 1 && c.grid.nx <= GridLimits.maxPointsPerAxis)
            #expect(c.grid.lx > 0 && c.grid.ly > 0 && c.alpha > 0 && c.steps >= 0)
            // The numbers the kernels use are positive and finite.
            let (rx, ry) = (c.alpha * c.dt / (c.hx * c.hx), c.alpha * c.dt / (c.hy * c.hy))
            #expect(c.dt > 0 && c.dt.isFinite && rx > 0 && rx.isFinite && ry > 0 && ry.isFinite, "dt \(c.dt) from \(text)")
            if let dt = c.requestedDt { #expect(dt <= c.stabilityLimit) }
            #expect(c.scheme.haloDepth >= 1 && c.output.every >= 0 && c.output.diagnosticsEvery >= 0)
            #expect(!c.output.path.isEmpty && c.output.checkpoint.every >= 0)
            roundTrip(input, c.effectiveJSON)
        case let c as TealeafConfiguration:
            #expect(c.grid.xCells >= 1 && c.grid.yCells >= 1 && !c.states.isEmpty)
            #expect(c.initialTimestep > 0 && c.endTime > 0 && c.solver.maxIters >= 1 && c.solver.haloDepth >= 1)
            let dx = (c.grid.xmax - c.grid.xmin) / Double(c.grid.xCells), dy = (c.grid.ymax - c.grid.ymin) / Double(c.grid.yCells)
            let (rx, ry) = (c.initialTimestep / (dx * dx), c.initialTimestep / (dy * dy))
            #expect(rx > 0 && rx.isFinite && ry > 0 && ry.isFinite, "from \(text)")
            roundTrip(input, c.effectiveJSON)
        case let c as IntegrateConfiguration:
            #expect(c.n >= 1 && c.repeats >= 1 && !c.integrands.isEmpty)
            roundTrip(input, c.effectiveJSON)
        default:
            Issue.record("a problem this test does not know: \(input.name)")
        }
    }

    /// The effective input (stored in results and checkpoints, read back on
    /// restart) describes the same configuration.
    private func roundTrip(_ input: ProblemInput, _ json: JSONNode) {
        let text = json.serialized()
        do throws(InputError) {
            let again = try ProblemInput.parse(text, fileName: "effective.json")
            switch (input.problem, again.problem) {
            case (let a as HeatConfiguration, let b as HeatConfiguration): #expect(a == b, "\(text)")
            case (let a as TealeafConfiguration, let b as TealeafConfiguration): #expect(a == b, "\(text)")
            case (let a as IntegrateConfiguration, let b as IntegrateConfiguration): #expect(a == b, "\(text)")
            default: Issue.record("the effective input changed problem: \(text)")
            }
        } catch {
            Issue.record("the effective input does not read back: \(error)\n\(text)")
        }
    }

    private func mutate(_ text: String, alphabet: [Character], random: inout SplitMix64) -> String {
        var characters = Array(text)
        guard !characters.isEmpty else { return String(alphabet[random.next(below: alphabet.count)]) }
        let at = random.next(below: characters.count)
        switch random.next(below: 9) {
        case 0:   // replace a character
            characters[at] = alphabet[random.next(below: alphabet.count)]
        case 1:   // delete a run
            characters.removeSubrange(at..<min(characters.count, at + 1 + random.next(below: 8)))
        case 2:   // insert a character
            characters.insert(alphabet[random.next(below: alphabet.count)], at: at)
        case 3:   // duplicate a run
            let run = characters[at..<min(characters.count, at + 1 + random.next(below: 40))]
            characters.insert(contentsOf: run, at: random.next(below: characters.count))
        case 4:   // truncate
            characters.removeSubrange(at...)
        case 5, 6:   // replace a number by an extreme or odd one
            return replaceNumber(in: text, random: &random)
        case 7:   // replace a word (key, value or deck keyword) by another
            return replaceWord(in: text, random: &random)
        default:   // swap two lines
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard lines.count > 1 else { return text }
            lines.swapAt(random.next(below: lines.count), random.next(below: lines.count))
            return lines.joined(separator: "\n")
        }
        return String(characters)
    }

    static let oddNumbers = ["0", "-0", "-1", "1", "2", "0.5", "1e308", "-1e308", "1e309", "1e-320", "5e-324", "1e999",
                             "9223372036854775807", "9223372036854775808", "-9223372036854775809", "2147483648",
                             "4294967297", "1.0", "1e2", "00", "01", "1.", ".5", "+1", "NaN", "Infinity", "-Infinity",
                             "0x10", "1_000", "12345678901234567890123"]
    static let oddWords = ["null", "true", "false", "[]", "{}", "\"\"", "\"heat\"", "\"tealeaf\"", "\"periodic\"",
                           "\"dirichlet\"", "\"sine\"", "[1, 2, 3]", "[0, 0]", "{\"a\": 1}", "state", "x_cells", "y_cells",
                           "end_step", "tl_use_ppcg", "tl_max_iters", "density", "energy", "geometry=circle", "radius",
                           "*endtea", "*tea", "halo_depth", "checkpoint_every", "\"checkpoint_path\""]

    private func replaceNumber(in text: String, random: inout SplitMix64) -> String {
        let pattern = try! NSRegularExpression(pattern: "-?[0-9][0-9.eE+-]*")
        let matches = pattern.matches(in: text, range: NSRange(text.startIndex..., in: text))
        guard !matches.isEmpty else { return text }
        let range = Range(matches[random.next(below: matches.count)].range, in: text)!
        return text.replacingCharacters(in: range, with: Self.oddNumbers[random.next(below: Self.oddNumbers.count)])
    }

    private func replaceWord(in text: String, random: inout SplitMix64) -> String {
        let pattern = try! NSRegularExpression(pattern: "\"[^\"]*\"|[A-Za-z_]+")
        let matches = pattern.matches(in: text, range: NSRange(text.startIndex..., in: text))
        guard !matches.isEmpty else { return text }
        let range = Range(matches[random.next(below: matches.count)].range, in: text)!
        return text.replacingCharacters(in: range, with: Self.oddWords[random.next(below: Self.oddWords.count)])
    }
}
