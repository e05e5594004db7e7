"""Make docs/report.png: the real HTML report of the sample, photographed by headless Chromium.

Run from the repository root after changing the report: ``python tools/make_screenshot.py``.
The PNG is reduced to a 256-colour palette to stay small.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

import bubbleup  # noqa: E402
from tests.browser import chromium, file_url  # noqa: E402

WIDTH = 1100


def main() -> None:
    os.chdir(ROOT)  # the report shows the relative path, as a user would type it
    result = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    with tempfile.TemporaryDirectory() as folder:
        page_path = Path(folder) / "report.html"
        page_path.write_text(result.to_html(top=10), encoding="utf-8")
        with chromium() as browser:
            page = browser.open(file_url(page_path))
            if page.errors:
                raise SystemExit(f"the report has errors: {page.errors}")
            png = page.screenshot(WIDTH)
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256)
    target = ROOT / "docs" / "report.png"
    image.save(target, optimize=True)
    size = target.stat().st_size
    print(f"{target.relative_to(ROOT)}: {image.width}x{image.height}, {size:,} bytes")


if __name__ == "__main__":
    main()
