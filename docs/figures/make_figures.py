"""Make the figures shown in docs/plot.md, with the commands the page quotes (kept script).

Each figure is made by the real command line (``rttgeo.cli.main``) or the public Python API into a
temporary folder, then saved here as a small PNG (1,000 pixels wide, 256 colours: the palette keeps
every mark's colour) so that the repository stays small; run the quoted command yourself for the
full-size PNG, SVG or PDF.

    .venv/bin/python docs/figures/make_figures.py            # all (about 10 minutes on 2 cores)
    .venv/bin/python docs/figures/make_figures.py map_cbg    # one
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WIDTH_PX = 1000


def small_png(src: Path, dest: Path) -> None:
    """``src`` downscaled to WIDTH_PX wide and reduced to a 128-colour palette, as ``dest``."""
    from PIL import Image  # pillow: a dependency of matplotlib

    im = Image.open(src).convert("RGB")
    h = round(im.height * WIDTH_PX / im.width)
    im = im.resize((WIDTH_PX, h), Image.LANCZOS).quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    im.save(dest, optimize=True)
    print(f"{dest.relative_to(HERE.parent.parent)}: {dest.stat().st_size / 1000:.0f} kB")


def cli(command: str, tmp: Path) -> None:
    from rttgeo.cli import main

    argv = shlex.split(command.format(tmp=tmp))[1:]
    print("$", command.format(tmp="."))
    code = main(argv)
    if code != 0:
        raise SystemExit(f"{command} exited {code}")


def verification(out: Path) -> None:
    """The example of docs/plot.md: a claim near Brussels checked by three landmarks."""
    from rttgeo.plot import DecidingLandmark, draw_verification
    from rttgeo.plot.regions import disc_intersection_outline
    from rttgeo.units import MAX_KM_PER_RTT_MS

    lms = [
        DecidingLandmark("fra1", 50.11, 8.68, 4.2 * MAX_KM_PER_RTT_MS, 4.2, "Frankfurt"),
        DecidingLandmark("par1", 48.86, 2.35, 3.1 * MAX_KM_PER_RTT_MS, 3.1, "Paris"),
        DecidingLandmark("ams1", 52.37, 4.90, 4.0 * MAX_KM_PER_RTT_MS, 4.0, "Amsterdam"),
    ]
    ring = disc_intersection_outline([m.lat_deg for m in lms], [m.lon_deg for m in lms],
                                     [m.radius_km for m in lms])
    assert ring is not None
    region = {"type": "Polygon", "coordinates": [ring.tolist()]}
    claim = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.35, 50.85]},
             "properties": {"radius_km": 50}}
    draw_verification(claim, region, lms, "undecided: the RTTs allow the claim and 350,000 km² more",
                      out, region_label="region the RTTs allow (discs at c)")


EVAL = ("rttgeo eval --method shortest-ping,cbg,spotter,rttgeo -q --plot {tmp}/eval_cdf.png "
        "--plot-reliability {tmp}/eval_reliability.png --plot-model {tmp}/eval_model.png "
        "--map {tmp}/eval_grid.png")

FIGURES = {
    "map_posterior": "rttgeo demo --method rttgeo -q --map {tmp}/map_posterior.png",
    "map_cbg": "rttgeo demo --method cbg -q --map {tmp}/map_cbg.png",
    "eval": EVAL,
    "verification": None,
}


def main(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name in names or list(FIGURES):
            command = FIGURES[name]
            if command is None:
                verification(tmp / f"{name}.png")
            else:
                cli(command, tmp)
            for png in sorted(tmp.glob("*.png")):
                small_png(png, HERE / png.name)
                png.unlink()


if __name__ == "__main__":
    main(sys.argv[1:])
