"""An offline byte-level tokenizer: UTF-8 bytes 0..255 plus three specials.

Byte-level tokenisation (as in ByT5, Xue et al. 2022) needs no vocabulary file and no
download, and gives a real token stream from any text. Token counts are higher than a
BPE tokenizer's (roughly 3-4 bytes per BPE token in English), which matters for
tokens-per-byte on disk but not for the compute per token of a given seq_len.

The stream is built with numpy (one int64 per byte, written in place), never as a Python int
per byte: a Python list costs ~8x the memory and ~100x the time (issue 20: a 2 GB file ran out
of memory). Callers bound what they pass (`readers.SAMPLE_BYTES`).
"""

from __future__ import annotations

import numpy as np
import torch

from raxlab.errors import RaxError


class ByteTokenizer:
    BOS = 256
    EOS = 257
    PAD = 258
    vocab_size = 259

    def check_utf8(self, raw: bytes, *, where: str) -> None:
        """Invalid UTF-8 is a one-line error with the byte offset."""
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RaxError(f"{where} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start});"
                           " save it as UTF-8", field="data") from None

    def encode_bytes(self, raw: bytes, *, where: str) -> np.ndarray:
        """Token ids (int64 array) of UTF-8 text."""
        self.check_utf8(raw, where=where)
        return np.frombuffer(raw, dtype=np.uint8).astype(np.int64)

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids) -> str:
        return bytes(int(i) for i in ids if i < 256).decode("utf-8", errors="replace")

    def stream(self, docs: list[bytes], *, where: str) -> torch.Tensor:
        """One token stream: each document followed by EOS (documents are packed, as in pretraining)."""
        out = np.empty(sum(len(d) for d in docs) + len(docs), dtype=np.int64)
        pos = 0
        for doc in docs:
            self.check_utf8(doc, where=where)
            out[pos:pos + len(doc)] = np.frombuffer(doc, dtype=np.uint8)
            pos += len(doc)
            out[pos] = self.EOS
            pos += 1
        return torch.from_numpy(out)
