"""Open X-Embodiment (RLDS/TFDS) sources: builder parsing, value decoding, subset tables, TFRecord I/O."""
