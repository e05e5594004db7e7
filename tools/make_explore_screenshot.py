"""Make docs/explore.png: the real ``bubbleup explore`` page on the sample, in headless Chromium.

Run from the repository root after changing the page: ``python tools/make_explore_screenshot.py``.
The server runs on 127.0.0.1 for the duration; the PNG is reduced to 256 colours.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from bubbleup.interfaces.explore.server import Server, serve  # noqa: E402
from bubbleup.interfaces.explore.state import Explorer, View  # noqa: E402
from tests.browser import HANG_GUARD_SECONDS, chromium  # noqa: E402

WIDTH = 1280
HEIGHT = 1150
WHERE = "exit_reason = 'oom'"


def main() -> None:
    os.chdir(ROOT)  # the page shows the relative path, as a user would type it
    server = Server(Explorer("sample_data/builds.parquet"))
    threading.Thread(target=serve, args=(server,), daemon=True).start()
    try:
        with chromium() as browser:
            page = browser.open(server.url_for(View(WHERE)))
            deadline = time.monotonic() + HANG_GUARD_SECONDS
            while page.evaluate(
                "document.getElementById('bubbleup-explore').dataset.state"
            ) not in ("ready", "error"):
                if time.monotonic() > deadline:
                    raise SystemExit("the page never became ready")
                time.sleep(0.1)
            if page.errors:
                raise SystemExit(f"the page has errors: {page.errors}")
            png = page.screenshot(WIDTH)
    finally:
        server.shutdown()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.crop((0, 0, WIDTH, min(HEIGHT, image.height))).quantize(colors=256)
    target = ROOT / "docs" / "explore.png"
    image.save(target, optimize=True)
    size = target.stat().st_size
    print(f"{target.relative_to(ROOT)}: {image.width}x{image.height}, {size:,} bytes")


if __name__ == "__main__":
    main()
