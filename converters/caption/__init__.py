"""Caption generator toolchain: corpus grammar, tokenizer, tiny GPT-2, pruning, INT8, KV-cache export.

Run ``python -m converters.caption all`` to rebuild every caption artifact and the report.
"""
