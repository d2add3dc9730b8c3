@testable import MiniappCore
import Testing

let validHeat = """
    {
      "problem": "heat",
      "grid": { "nx": 64, "ny": 32, "lx": 2.0, "ly": 1.0 },
      "boundary": { "x": "periodic", "y": "dirichlet", "value": 0.5 },
      "physics": { "alpha": 0.5 },
      "time": { "steps": 10, "dt": null, "safety": 0.8 },
      "initial": { "type": "gaussian", "center": [1.0, 0.5], "width": 0.1, "amplitude": 2 },
      "decomposition": { "dims": [2, 0] },
      "output": { "path": "x.h5", "every": 5, "diagnostics_every": 2 }
    }
    """

func heat(_ text: String) throws -> HeatConfiguration {
    guard let c = (try ProblemInput.parse(text, fileName: "in.json")).problem as? HeatConfiguration else { fatalError() }
    return c
}

/// The message of the error `text` raises.
func message(_ text: String) -> String {
    do {
        _ = try ProblemInput.parse(text, fileName: "in.json")
        return "no error"
    } catch {
        return error.description
    }
}

/// `validHeat` with one substitution.
func variant(_ old: String, _ new: String) -> String {
    precondition(validHeat.contains(old))
    return validHeat.replacingOccurrences(of: old, with: new)
}

@Suite struct InputValidationTests {
    @Test func readsEveryKey() throws {
        let c = try heat(validHeat)
        #expect(c.grid == .init(nx: 64, ny: 32, lx: 2, ly: 1))
        #expect(c.boundaryX == .periodic && c.boundaryY == .dirichlet && c.boundaryValue == 0.5)
        #expect(c.alpha == 0.5 && c.steps == 10 && c.requestedDt == nil && c.safety == 0.8)
        #expect(c.initial == .gaussian(center: [1, 0.5], width: 0.1, amplitude: 2))
        #expect(c.decomposition.dims == [2, 0])
        #expect(c.output == OutputSpec(path: "x.h5", every: 5, diagnosticsEvery: 2))
        // Periodic x: h = L/n; Dirichlet y: h = L/(n+1).
        #expect(c.hx == 2.0 / 64 && c.hy == 1.0 / 33)
        let h = min(c.hx, c.hy)
        #expect(c.dt == 0.8 * h * h / (4 * 0.5))
    }

    @Test func defaultsFillTheRest() throws {
        let c = try heat(#"{"problem": "heat", "grid": {"nx": 10, "ny": 20}}"#)
        #expect(c.grid.lx == 1 && c.boundaryX == .dirichlet && c.alpha == 1 && c.steps == 100)
        #expect(c.initial == .sine(modes: [1, 1], amplitude: 1))
        #expect(c.output.path == "heat.h5" && c.output.diagnosticsEvery == 10)
    }

    @Test func effectiveInputReadsBackToTheSameConfiguration() throws {
        let c = try heat(validHeat)
        let again = try heat(c.effectiveJSON.serialized())
        #expect(again == c)
    }

    @Test func messagesNameTheKeyAndThePosition() {
        #expect(message(variant(#""nx": 64"#, #""nx": -3"#)) == "in.json:3:13: 'grid.nx' must be an integer from 1 to 2147483648, got -3")
        #expect(message(variant(#""alpha": 0.5"#, #""alpha": 0"#)).hasSuffix("5:16: 'physics.alpha' must be a number > 0, got 0"))
        #expect(message(variant(#""nx": 64"#, #""nx": 64.0"#)).contains("'grid.nx' must be an integer"))
        #expect(message(variant(#""nx": 64"#, #""nx": 1e400"#)).contains("grid.nx"))
        #expect(message(variant(#""steps": 10"#, #""steps": true"#)).contains("'time.steps' must be an integer >= 0, got a boolean"))
        #expect(message(variant(#""x": "periodic""#, #""x": "Periodic""#)).contains("did you mean 'periodic'?"))
        #expect(message(variant(#""type": "gaussian""#, #""type": "gauss""#)).contains("'initial.type' must be one of 'sine', 'gaussian', 'constant'"))
        #expect(message(variant(#""safety": 0.8"#, #""safety": 0"#)).contains("'time.safety' must be a number > 0 and <= 1.0"))
        #expect(message(variant(#""dims": [2, 0]"#, #""dims": [2, -1]"#)).contains("'decomposition.dims[1]' must be an integer >= 0, got -1"))
        #expect(message(variant(#""every": 5"#, #""every": null"#)).contains("output.every"))
        #expect(message(variant(#""path": "x.h5""#, #""path": """#)).contains("'output.path' must not be empty"))
    }

    @Test func unknownKeysGetSuggestions() {
        #expect(message(variant(#""nx": 64"#, #""nxx": 64"#)).contains("unknown key 'grid.nxx'; did you mean 'grid.nx'?"))
        #expect(message(variant(#""safety": 0.8"#, #""safety": 0.8, "alpha": 1"#)).contains("unknown key 'time.alpha'; it belongs in 'physics'"))
        #expect(message(variant(#""problem": "heat","#, #""problem": "heat", "zzz": 1,"#)).contains("unknown key 'zzz'; known keys:"))
        #expect(message(variant(#""width": 0.1"#, #""widht": 0.1"#)).contains("did you mean 'initial.width'?"))
    }

    @Test func stabilityLimitIsEnforcedWithTheLimitInTheMessage() throws {
        // Dirichlet 15 x 15 on the unit square, alpha 1: limit h^2/4 = 1/1024.
        let base = #"{"problem": "heat", "grid": {"nx": 15, "ny": 15}, "time": {"dt": DT}}"#
        #expect(try heat(base.replacingOccurrences(of: "DT", with: "0.0009765625")).dt == 1.0 / 1024)
        let text = message(base.replacingOccurrences(of: "DT", with: "0.001"))
        #expect(text.contains("'time.dt' is 0.001, above the stability limit 0.000976562"))
    }

    @Test func columnTilesOfTheWavefront() throws {
        let scheme = { (keys: String) throws -> HeatConfiguration.Scheme in
            try heat(#"{"problem": "heat", "grid": {"nx": 64, "ny": 64}, "scheme": {KEYS}}"#
                .replacingOccurrences(of: "KEYS", with: keys)).scheme
        }
        #expect(try scheme("").tileColumns == .auto)
        #expect(try scheme(#""halo_depth": 4, "temporal_blocking": true, "tile_columns": "off""#).tileColumns == .off)
        #expect(try scheme(#""halo_depth": 4, "temporal_blocking": true, "tile_columns": 512"#).tileColumns == .width(512))
        let c = try heat(variant(#""output": {"#, #""scheme": {"temporal_blocking": true, "tile_columns": 96}, "output": {"#))
        #expect(try heat(c.effectiveJSON.serialized()) == c)
        let error = { (keys: String) in
            message(#"{"problem": "heat", "grid": {"nx": 64, "ny": 64}, "scheme": {KEYS}}"#.replacingOccurrences(of: "KEYS", with: keys))
        }
        #expect(error(#""temporal_blocking": true, "tile_columns": 4"#)
            .contains("'scheme.tile_columns' must be an integer from 8 to 2147483648, got 4"))
        #expect(error(#""temporal_blocking": true, "tile_columns": "of""#).contains("must be one of 'auto', 'off', got 'of'; did you mean 'off'?"))
        #expect(error(#""temporal_blocking": true, "tile_columns": true"#)
            .contains("'scheme.tile_columns' must be one of 'auto', 'off' or an integer from 8 to 2147483648, got a boolean"))
        #expect(error(#""tile_columns": 256"#).contains("'scheme.tile_columns' is for temporal blocking only"))
    }

    @Test func missingSectionsAndValues() {
        #expect(message(#"{"problem": "heat"}"#).contains("'grid' is missing (a required section)"))
        #expect(message(#"{"problem": "heat", "grid": {"nx": 4}}"#).contains("'grid.ny' is missing"))
        #expect(message(#"{"grid": {"nx": 4, "ny": 4}}"#).contains("'problem' is missing"))
        #expect(message(#"[1, 2]"#).contains("must be an object, got an array"))
    }
}

@Suite struct JSONParserTests {
    @Test func syntaxErrorsHaveLineAndColumn() {
        #expect(message("{\n  \"problem\": \"heat\",\n  \"grid\": {\"nx\": 10 \"ny\": 10}\n}")
                == "in.json:3:21: invalid JSON: expected ',' or '}' after the value of 'nx', found '\"'")
        #expect(message("{\"a\": 1,}").contains("1:9: invalid JSON: expected a quoted key, found '}'"))
        #expect(message("{\"a\": [1, 2").contains("invalid JSON: expected ',' or ']' in array, found end of input"))
        #expect(message("{\"a\": 01}").contains("leading zeros"))
        #expect(message("{\"a\": \"x\ny\"}").contains("control character in string"))
        #expect(message("{\"a\": tru}").contains("invalid literal"))
        #expect(message("{} {}").contains("after the end of the document"))
        #expect(message("").contains("1:1: invalid JSON: expected a value, found end of input"))
        #expect(message("{\"a\": 1, \"a\": 2}").contains("1:10: invalid JSON: duplicate key 'a'"))
    }

    @Test func parsesAndWritesBack() throws {
        let text = #"{"s": "a\"b\\c\u00e9\ud83d\ude00", "n": [-1.5e3, 0, 7], "t": true, "f": false, "z": null, "o": {}}"#
        let node = try JSONParser.parse(text)
        guard case .string(let s) = node["s"]?.value else { Issue.record("no string"); return }
        #expect(s == "a\"b\\cé😀")
        let again = try JSONParser.parse(node.serialized())
        #expect(again.serialized() == node.serialized())
        #expect(node["n"]?.typeName == "an array" && node["z"]?.typeName == "null")
    }
}
