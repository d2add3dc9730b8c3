/// The widest vector instructions this module was compiled for (set by
/// Package.swift from the build's target), for the benchmark's report and
/// the results files (`kernel_vectors`): the band kernels of temporal
/// blocking compute from cache, where the vector width is the rate.
public let kernelVectorExtension: String = {
    #if KERNELS_AVX512
    return "AVX-512 (x86-64-v4)"
    #elseif KERNELS_AVX2
    return "AVX2 (x86-64-v3)"
    #elseif KERNELS_BASELINE
    return "SSE2 (x86-64 baseline)"
    #else
    return "the compiler's default for the target (debug build, or MINIAPP_MARCH set)"
    #endif
}()
