"""Benchmarks that print figures (docs/benchmarks.md): ``python -m benchmarks.model``
(encoding and decoding speed, GrabCut quality), ``python -m benchmarks.upload_to_ready``
(an upload to a ready image, end to end, with a real worker)."""
