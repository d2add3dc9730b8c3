/// The value of an attribute of a results file (run metadata, timings,
/// counters), written by `StagedFile.setAttributes`.
public enum AttributeValue: Sendable {
    case string(String), int(Int), ints([Int]), double(Double), doubles([Double])
}
