"""An offline byte-level tokenizer: UTF-8 bytes 0..255 plus three specials.

Byte-level tokenisation (as in ByT5, Xue et al. 2022) needs no vocabulary file and no
download, and gives a real token stream from any text. Token counts are higher than a
BPE tokenizer's (roughly 3-4 bytes per BPE token in English), which matters for
tokens-per-byte on disk but not for the compute per token of a given seq_len.
"""

from __future__ import annotations

import torch

from raxlab.errors import RaxError


class ByteTokenizer:
    BOS = 256
    EOS = 257
    PAD = 258
    vocab_size = 259

    def encode_bytes(self, raw: bytes, *, where: str) -> list[int]:
        """Token ids of UTF-8 text; invalid UTF-8 is a one-line error with the byte offset."""
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RaxError(f"{where} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start});"
                           " save it as UTF-8", field="data") from None
        return list(raw)

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")

    def stream(self, docs: list[bytes], *, where: str) -> torch.Tensor:
        """One token stream: each document followed by EOS (documents are packed, as in pretraining)."""
        out: list[int] = []
        for doc in docs:
            out.extend(self.encode_bytes(doc, where=where))
            out.append(self.EOS)
        return torch.tensor(out, dtype=torch.long)
