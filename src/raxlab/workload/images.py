"""Image-folder samples: `root/<class>/<image>`, decoded with Pillow and resized.

Channels follow the image, not a silent conversion: grayscale stays 1 channel and
colour is 3, so a grayscale folder fed to an RGB model is an error that says so (a
silent convert would hide that the customer's real pipeline differs). Alpha is dropped
unless the model takes 4 channels, and palette/CMYK/YCbCr images become RGB, as
torchvision's `ImageFolder` loader does.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from raxlab.errors import RaxError

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
        self.classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        self.files = [(f, label) for label, c in enumerate(self.classes)
                      for f in sorted((root / c).iterdir()) if f.suffix.lower() in IMAGE_EXTS]
        if not self.files:
            loose = sum(1 for f in root.iterdir() if f.suffix.lower() in IMAGE_EXTS)
            extra = f" ({loose} images at top level)" if loose else ""
            raise RaxError(f"image folder {root} needs one subfolder of images per class{extra}", field="data")
        self.image_size, self.channels = image_size, channels
        self.bytes_on_disk = sum(f.stat().st_size for f, _ in self.files)
        self.n, self.where = len(self.files), root.name
        self.load_s = time.perf_counter() - t0

    def item(self, i: int) -> dict[str, torch.Tensor]:
        path, label = self.files[i]
        return {"pixel_values": self.decode(path), "labels": torch.tensor(label, dtype=torch.long)}

    def decode(self, path: Path) -> torch.Tensor:
        """[C, S, S] float32 in 0..1; a wrong channel count is a one-line error naming the file."""
        Image = _pil()
        try:
            with Image.open(path) as img:
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
