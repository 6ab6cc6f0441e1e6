"""bvjax's launch layer: absl entry point, training loop, configs, experiments, benchmarks."""
