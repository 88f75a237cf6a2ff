"""Build ``plots/offline.html``: DVC's plots page with Vega, Vega-Lite and Vega-Embed inlined.

Why: DVC's default page loads the three libraries from a CDN, so ``dvc plots show`` renders
nothing on a machine without internet. ``.dvc/config`` points ``plots.html_template`` here.
The page has no ``{scripts}`` placeholder, so DVC adds no CDN tags; it keeps ``{plot_divs}``.

Usage (the versions DVC's renderer expects; the tarballs come from the npm registry)::

    npm pack vega@5.20.2 vega-lite@5.2.0 vega-embed@6.18.2
    python plots/build_template.py vega-5.20.2.tgz vega-lite-5.2.0.tgz vega-embed-6.18.2.tgz
"""

from __future__ import annotations

import argparse
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILDS = {"vega": "vega.min.js", "vega-lite": "vega-lite.min.js", "vega-embed": "vega-embed.min.js"}

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>avsal: DVC plots</title>
<!-- Vega, Vega-Lite and Vega-Embed, inlined from their npm packages (BSD-3-Clause, University of
     Washington Interactive Data Lab; licence texts in plots/licenses/). {versions} -->
{scripts_inline}
    <style>
        body {{ font-family: sans-serif; }}
        table {{ border-spacing: 15px; }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


def _script(tgz: Path) -> tuple[str, str, str]:
    with tarfile.open(tgz) as tar:
        name = next(
            n for n in BUILDS if tgz.name.startswith(n + "-") and tgz.name[len(n) + 1].isdigit()
        )
        js = tar.extractfile(f"package/build/{BUILDS[name]}").read().decode("utf-8")
    js = "\n".join(x for x in js.splitlines() if not x.startswith("//# sourceMappingURL="))
    if "</script" in js or "{plot_divs}" in js or "{refresh_tag}" in js:
        raise SystemExit(f"{tgz}: the build holds a string the page cannot inline")
    return name, tgz.name[: -len(".tgz")], js


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "tarballs", nargs=3, type=Path, help="npm pack tarballs of vega, vega-lite, vega-embed"
    )
    ap.add_argument("--out", type=Path, default=HERE / "offline.html")
    args = ap.parse_args()
    parts = sorted((_script(t) for t in args.tarballs), key=lambda p: list(BUILDS).index(p[0]))
    inline = "\n".join(f'<script type="text/javascript">\n{js}\n</script>' for _, _, js in parts)
    page = PAGE.replace("{{", "{").replace("}}", "}")  # before the scripts: theirs stay as they are
    page = page.replace("{versions}", ", ".join(v for _, v, _ in parts))
    page = page.replace("{scripts_inline}", inline)
    args.out.write_text(page, encoding="utf-8")
    print(f"wrote {args.out} ({len(page) // 1024} KiB)")


if __name__ == "__main__":
    main()
