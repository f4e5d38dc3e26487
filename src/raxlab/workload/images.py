"""Image-folder samples: `root/<class>/<image>`, decoded with Pillow and resized.

Channels follow the image, not a silent conversion: grayscale stays 1 channel and
colour is 3, so a grayscale folder fed to an RGB model is an error that says so (a
silent convert would hide that the customer's real pipeline differs). Alpha is dropped
unless the model takes 4 channels, and palette/CMYK/YCbCr images become RGB, as
torchvision's `ImageFolder` loader does.

A sample is a sample: at most `MAX_CLASSES` class folders and `MAX_IMAGES` images in all are
listed (sorted by name; the card notes the cut), only regular files count as images (a FIFO or
device named `x.png` is skipped, never opened), each at most `IMAGE_BYTES`, decoded from a
descriptor `raxlab.infile` opened; Pillow's decompression-bomb limit stays on.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from raxlab.errors import RaxError
from raxlab.infile import MiB, is_regular, list_dir, open_input

MAX_CLASSES = 1000
MAX_IMAGES = 10_000
IMAGE_BYTES = 64 * MiB
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F", "La"}


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pillow is a runtime dependency; a broken env gets a fixable message
        raise RaxError("image samples need Pillow: pip install pillow", field="data") from None
    return Image


class ImageFolderReader:
    """Images under one subfolder per class; labels are the sorted class-folder indices."""

    def __init__(self, root: Path, image_size: int, channels: int | None):
        t0 = time.perf_counter()
        self.truncated = None
        dirs = [e for e in list_dir(root, "data", MAX_CLASSES + 1) if _is_dir(e) and not e.name.startswith(".")]
        if len(dirs) > MAX_CLASSES:
            dirs, self.truncated = dirs[:MAX_CLASSES], f"{root.name}: the first {MAX_CLASSES} class folders"
        self.classes = [d.name for d in dirs]
        self.files: list[tuple[Path, int]] = []
        for label, d in enumerate(dirs):
            left = MAX_IMAGES - len(self.files)
            if left <= 0:
                self.truncated = f"{root.name}: the first {MAX_IMAGES:,} images (a sample is capped at {MAX_IMAGES:,})"
                break
            self.files += [(Path(e.path), label) for e in list_dir(Path(d.path), "data", left)
                           if Path(e.name).suffix.lower() in IMAGE_EXTS and is_regular(e)]
        if not self.files:
            loose = sum(1 for e in list_dir(root, "data", MAX_IMAGES) if Path(e.name).suffix.lower() in IMAGE_EXTS)
            extra = f" ({loose} images at top level)" if loose else ""
            raise RaxError(f"image folder {root} needs one subfolder of images per class{extra}", field="data")
        self.image_size, self.channels = image_size, channels
        self.bytes_on_disk = sum(_size(f) for f, _ in self.files)
        self.n, self.where = len(self.files), root.name
        self.load_s = time.perf_counter() - t0

    def item(self, i: int) -> dict[str, torch.Tensor]:
        path, label = self.files[i]
        return {"pixel_values": self.decode(path), "labels": torch.tensor(label, dtype=torch.long)}

    def decode(self, path: Path) -> torch.Tensor:
        """[C, S, S] float32 in 0..1; a wrong channel count is a one-line error naming the file."""
        Image = _pil()
        try:
            if path.stat().st_size > IMAGE_BYTES:
                raise RaxError(f"image {path.name} is over {IMAGE_BYTES // MiB} MiB; a sample image is smaller",
                               field="data")
            with open_input(path, "data") as f, Image.open(f) as img:
                img.load()
                img = _normalise_mode(img, self.channels)
                img = img.resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
        except RaxError:
            raise
        except Exception as exc:  # truncated or corrupt files raise OSError / UnidentifiedImageError
            raise RaxError(f"cannot decode image {path.name}: {exc}", field="data") from None
        arr = np.asarray(img, dtype=np.uint8)
        arr = arr[:, :, None] if arr.ndim == 2 else arr
        if self.channels is not None and arr.shape[2] != self.channels:
            raise RaxError(f"{path.parent.name}/{path.name} has {arr.shape[2]} channel(s) (mode {img.mode});"
                           f" the model's first layer expects {self.channels}", field="data",
                           hint="convert the images, e.g. Pillow .convert('RGB')")
        return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)

    def check_classes(self, num_classes: int | None) -> None:
        if num_classes is not None and len(self.classes) > num_classes:
            listed = ", ".join(self.classes[:8]) + (", ..." if len(self.classes) > 8 else "")
            raise RaxError(f"{self.where} has {len(self.classes)} classes ({listed});"
                           f" the model has {num_classes} outputs", field="data",
                           hint="set num_classes / num_labels in the model to the class count")


def _normalise_mode(img, channels: int | None):
    """Grayscale -> L, colour -> RGB; alpha kept only when the model takes 4 channels."""
    mode = img.mode
    if mode in GRAY_MODES:
        return img.convert("L") if mode != "L" else img
    if channels == 4 and ("A" in mode or "transparency" in img.info):
        return img.convert("RGBA")
    return img.convert("RGB") if mode != "RGB" else img


def _is_dir(entry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
