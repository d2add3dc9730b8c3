"""Post-processing of miniapp's HDF5 result files: scaling tables and plots,
per-run summaries, field images. Reads only the documented layout."""
