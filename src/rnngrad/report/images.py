"""The report's figures as embedded images: a saved PNG, checked whole and readable, or one
drawn from the tables when none was saved, base64-encoded for the self-contained page."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from rnngrad.report import figstyle, figures


class FigureError(ValueError):
    """A saved figure that is not a whole, readable PNG."""


def _check_png(path: Path, data: bytes) -> dict:
    """Refuse a truncated or corrupt PNG (a killed figures run), naming the file; return its
    text chunks (``Description`` marks a figure without data)."""
    from PIL import Image  # matplotlib's own dependency

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # decodes every row: a truncated file fails here
            info = dict(im.info)
        with Image.open(io.BytesIO(data)) as im:
            im.verify()  # the chunks' checksums
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, ...
        raise FigureError(
            f"{path}: not a readable PNG ({type(e).__name__}: {e}); redraw the figures "
            "(rnngrad figures, or delete it and rerun snakemake)"
        ) from e
    return info


def figure_png(name: str, tables, figures_dir: Path | None) -> tuple[str, bool]:
    """Base64 PNG of a figure (the saved file if present, else drawn from the tables) and
    whether it has data (False for the placeholder of a figure the study cannot draw)."""
    path = None if figures_dir is None else figures_dir / f"{name}.png"
    if path is not None and path.exists():
        data = path.read_bytes()
        has_data = _check_png(path, data).get("Description") != figstyle.NO_DATA
    else:
        fig, has_data = figures.draw(name, tables)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=figstyle.DPI)
        data = buf.getvalue()
    return base64.b64encode(data).decode("ascii"), has_data
