"""Generate the bundled `shapes` image sample: `python -m raxlab.workload._make_shapes [DIR]`.

Four classes (circle, square, triangle, stripes), drawn with random colours, sizes and
positions on a random background, 32x32 RGB PNG. Procedural, so the sample carries no
third-party images; seeded, so it regenerates identically.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

CLASSES = ("circle", "square", "triangle", "stripes")


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return tuple(rng.randrange(256) for _ in range(3))  # type: ignore[return-value]


def draw(cls: str, rng: random.Random, size: int = 32):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), _colour(rng))
    d = ImageDraw.Draw(img)
    r = rng.randint(size // 5, size // 3)
    cx, cy = rng.randint(r, size - r), rng.randint(r, size - r)
    fill = _colour(rng)
    if cls == "circle":
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif cls == "square":
        d.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif cls == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    else:
        step = rng.randint(3, 6)
        for x in range(rng.randrange(step), size, step):
            d.line((x, 0, x, size), fill=fill, width=max(1, step // 2))
        if rng.random() < 0.5:
            img = img.rotate(90)
    return img


def main(out: Path, per_class: int = 16, size: int = 32, seed: int = 0) -> int:
    rng = random.Random(seed)
    for cls in CLASSES:
        (out / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            draw(cls, rng, size).save(out / cls / f"{cls}_{i:03d}.png", optimize=True)
    return len(CLASSES) * per_class


if __name__ == "__main__":
    default = Path(__file__).parent / "samples" / "shapes"
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else default), "images written")
