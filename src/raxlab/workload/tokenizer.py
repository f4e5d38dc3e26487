"""An offline byte-level tokenizer: UTF-8 bytes 0..255 plus three specials.

Byte-level tokenisation (as in ByT5, Xue et al. 2022) needs no vocabulary file and no
download, and gives a real token stream from any text. Token counts are higher than a
BPE tokenizer's (roughly 3-4 bytes per BPE token in English), which matters for
tokens-per-byte on disk but not for the compute per token of a given seq_len.

What a byte-level stream gets wrong is the data's size per token: a BPE tokenizer packs several
bytes of text into a token, so `seq_len` tokens stand for several times `seq_len` bytes on disk, and
storage sizing from byte tokens would be low by that factor. `bpe_bytes_per_token` measures it on
the customer's own text: a byte-level BPE (the `tokenizers` package, trained here, no download)
learns merges on 80 % of the sample and is measured on the other 20 %; `sample_bytes_per_sample`
scales by it. A sample too small to train on says so instead (the card carries the note).

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


BPE_VOCAB = 8192  # merges a small sample can support; large production vocabularies (32k-128k) pack more
BPE_MIN_BYTES = 64 * 2**10  # below this the held-out 20 % is too little text to measure on
BPE_MAX_BYTES = 8 * 2**20  # training on more costs seconds and changes the figure little
HELD_OUT = 0.2


def bpe_bytes_per_token(docs: list[bytes]) -> tuple[float | None, str]:
    """Bytes of text per token of a byte-level BPE trained on 80 % of `docs`, measured on the rest;
    (None, why) when the sample is too small. The note says which, for the card."""
    total = sum(len(d) for d in docs)
    if total < BPE_MIN_BYTES:
        return None, (f"tokens are bytes: the {total:,}-byte text sample is too small to train a BPE tokenizer "
                      f"on (needs {BPE_MIN_BYTES // 1024} KiB); a BPE tokenizer packs about 4 characters of English "
                      "per token (OpenAI's tokenizer guide), so sample_bytes (bytes on disk per sample) is low by "
                      "about that factor")
    text = b"\n".join(docs)[:BPE_MAX_BYTES].decode("utf-8", errors="replace")
    cut = int(len(text) * (1 - HELD_OUT))
    tok = _train_bpe(text[:cut])
    held = text[cut:]
    n = len(tok.encode(held).ids)
    b = len(held.encode("utf-8")) / max(n, 1)
    return b, (f"bytes per token {b:.3g}: a byte-level BPE of {BPE_VOCAB:,} tokens trained on 80 % of the sample "
               "and measured on the other 20 %; sample_bytes counts seq_len such tokens (the model is fed byte "
               "tokens, which changes no FLOP count per token)")


def _train_bpe(text: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_chunks(text), trainer=trainer)
    return tok


def _chunks(text: str, size: int = 1 << 16):
    for i in range(0, len(text), size):
        yield text[i:i + size]
