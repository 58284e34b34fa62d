"""The HTML report: one self-contained file, escaped, complete, and working in a real browser."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from test_figures import make_tables

from rnngrad.report import (
    analysis,
    analysis_theory,
    analysis_training,
    fig_training,
    figures,
    images,
    page,
    pagedata,
)

EVIL = "<script>alert(1)</script>"


def write_tables(tables, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_parquet(folder / f"{name}.parquet")
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A report of the fixture study, one remedy renamed to a script tag."""
    t = make_tables(
        seq_lens=(10, 20), scales=(0.5, 1.0, 2.0), remedies=("none", "clip_norm", "orthogonal_init")
    )
    renamed = {"orthogonal_init": EVIL}
    cells = t["cells"].assign(remedy=t["cells"]["remedy"].replace(renamed))
    root = tmp_path_factory.mktemp("study")
    write_tables({**t, "cells": cells}, root / "tables")
    out = page.build_report(
        f"demo{EVIL}",
        root / "tables",
        root / "figures",
        root / "demo.html",
        config={"study": "demo", "remedies": {EVIL: {"init": "orthogonal"}}},
    )
    return out, {**t, "cells": cells}


def test_one_self_contained_file(built):
    out, _ = built
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert html.count(pagedata.javascript_bundle()) == 1  # the vendored Vega, inlined
    html = html.replace(pagedata.javascript_bundle(), "")  # its own strings name web sites
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    srcs = re.findall(r'<img src="([^"]*)"', html)
    not_drawn = html.count('<p class="nodata"')  # figures this study has no data for
    assert len(srcs) + not_drawn == len(figures.FIGURES) and len(srcs) > not_drawn
    assert all(s.startswith("data:image/png;base64,") for s in srcs)


def test_user_strings_are_escaped(built):
    out, _ = built
    html = out.read_text()
    # the page's own: the table script, the Vega bundle, the charts' script and its two JSON
    # blocks; nothing injected
    assert html.count("<script") == 5
    assert "alert(1)" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_summary_findings_and_sections(built):
    out, t = built
    html = out.read_text()
    assert f"{len(t['cells'])} cells" in html
    for sid, _title, names in page.SECTIONS:
        assert f'id="{sid}"' in html
        for name in names:
            assert f'id="fig-{name}"' in html
    for ref in ("Pascanu", "Rumelhart"):  # remedy paragraphs carry their references
        assert ref in html
    assert "Median over 2 seeds" in html


def test_learning_table_per_remedy_and_seq_len(built):
    out, t = built
    table = analysis_training.learning_table(t["cells"])
    assert list(table.index) == ["none", "clip_norm", EVIL] and list(table.columns) == [10, 20]
    expected = t["cells"].groupby(["remedy", "seq_len"])["normalized_loss"].median()
    for (rem, L), v in expected.items():
        assert table.loc[rem, L] == pytest.approx(v)
    html = out.read_text()
    section = html[html.index('id="learning-table"') :]
    section = section[: section.index("</table>")]
    assert section.count('class="learns"') == (table < page.LEARNS_BELOW).sum().sum() == 3
    assert (
        section.count('class="beats"') == ((table >= page.LEARNS_BELOW) & (table < 1)).sum().sum()
    )
    assert f"{table.loc['none', 20]:.3g}" in section and "&lt;script&gt;" in section
    assert "&lt; 1 beats chance" in html and "&lt; 0.5 learns" in html


def test_learning_table_takes_the_best_lr():
    rows = [
        {
            "remedy": rem,
            "seq_len": 10,
            "lr": lr,
            "seed": seed,
            "final_loss": 1.0,
            "status": "ok",
            "solved": learns,
            "normalized_loss": 0.02 if learns else 0.95,
        }
        for rem, good in (("none", 0.1), ("lstm", 0.01))
        for lr in (0.1, 0.01)
        for seed in (0, 1)
        for learns in [lr == good]
    ]
    table = analysis_training.learning_table(pd.DataFrame(rows))
    assert table.loc["none", 10] == table.loc["lstm", 10] == 0.02
    assert analysis_training.learning_table(pd.DataFrame(rows).drop(columns="final_loss")).empty


def test_tasks_stay_apart_in_the_summary_and_the_figures():
    """A study of two tasks: a loss over one task's baseline is not another's, so the tables
    and the training figures keep tasks apart (the lru learns copy, not adding; each task at
    its own longest length)."""
    rows = [
        {
            "cell_id": f"{task}-{rem}-{T}-{seed}",
            "backend": "numpy",
            "task": task,
            "remedy": rem,
            "seq_len": T,
            "seed": seed,
            "w_rec_scale": 1.0,
            "batch": 32,
            "train_steps": 1000,
            "steps_trained": 1000 if not learns else 300,
            "steps_to_solve": 300 if learns else None,
            "final_loss": 1.0,
            "status": "ok",
            "solved": learns,
            "normalized_loss": 0.01 if learns else 0.9,
            "lr": 0.005 if rem == "lru" else 0.01,  # each remedy its own: lr is no grid axis
        }
        for task, lengths in (("adding", (100, 200)), ("copy", (100,)))
        for rem in ("none", "lru")
        for T in lengths
        for seed in (0, 1)
        for learns in [rem == "lru" and task == "copy"]
    ]
    cells = pd.DataFrame(rows)
    cells["steps_to_solve"] = cells["steps_to_solve"].astype("Int64")
    table = analysis_training.learning_table(cells)
    assert list(table.columns) == [("adding", 100), ("adding", 200), ("copy", 100)]
    assert table.loc["lru", ("copy", 100)] == 0.01 and table.loc["lru", ("adding", 200)] == 0.9
    solved = analysis_training.solved_at_longest(cells)
    assert list(solved.columns[:3]) == ["task", "remedy", "seq_len"]
    assert solved.set_index(["task", "remedy"])["seq_len"].to_dict() == {
        ("adding", "none"): 200,
        ("adding", "lru"): 200,
        ("copy", "none"): 100,
        ("copy", "lru"): 100,
    }
    assert page.findings({"cells": cells})["winners"] == ["lru (copy)"]
    methods = page.methods_table(cells).set_index("remedy")
    assert methods.loc["lru", "solved"] == "adding 0/4, copy 2/2"
    assert methods.loc["lru", "steps to solve (median)"] == "copy 300"
    assert analysis_training.lr_note(cells) == ""
    assert analysis.profile_task(cells) == "adding"  # the lag figures draw its profiles alone
    assert analysis_training.lr_note(cells.assign(lr=cells["seed"] * 0.01 + 0.01)) != ""
    for plot in (fig_training.plot_solved_vs_seq_len, fig_training.plot_steps_to_solve):
        fig = plot({"cells": cells})
        titles = [ax.get_title(loc="left") for ax in fig.axes]
        assert titles.count("task: adding") == titles.count("task: copy") == 1, plot.__name__
    training = pd.DataFrame(
        [
            {"cell_id": i, "step": k, "loss": 0.5, "clipped": False}
            for i in cells["cell_id"]
            for k in (1, 2)
        ]
    )
    fig = fig_training.plot_training_curves(
        {"cells": cells.assign(baseline_loss=1.0), "training": training}
    )
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["adding, seq_len 200, w_rec_scale 1", "copy, seq_len 100, w_rec_scale 1"]
    # one task: no task column, no row titles (as before)
    one = cells[cells["task"] == "adding"]
    assert analysis.profile_task(one) is None
    assert "task" not in analysis_training.solved_at_longest(one)
    assert list(analysis_training.learning_table(one).columns) == [100, 200]
    fig = fig_training.plot_solved_vs_seq_len({"cells": one})
    assert len(fig.axes) == 2 and not fig.axes[0].get_title(loc="left")


def test_data_dictionary_covers_every_column(built):
    _, t = built
    for name in page.TABLES:
        for col in t[name].columns:
            _unit, meaning = page.describe_column(col)
            assert meaning, col
            if col not in ("clipped", "penalty") and col in t["cells"]:
                assert not meaning.startswith("further grid axis"), col
    assert page.describe_column("init_lyapunov_max")[0].startswith("ln")
    assert "after training" in page.describe_column("trained_decay_rate")[1]


def test_crossing_interpolates_in_log_scale():
    s = np.array([0.5, 1.0, 2.0, 4.0])
    r = 3.0 * np.log10(s / 1.7)  # exactly linear in log10 s, zero at 1.7
    assert float(analysis_theory._crossing(s, r)) == pytest.approx(1.7, rel=1e-3)
    assert analysis_theory._crossing(s, -np.ones(4)).startswith("above 4")
    assert analysis_theory._crossing(s, np.array([-1.0, -0.5, np.inf, np.inf])) == "between 1 and 2"


def test_code_hash_warning(tmp_path):
    t = make_tables(
        seeds=(0,),
        backends=("numpy",),
        trained=False,
        seq_lens=(10,),
        scales=(0.9, 1.2),
        remedies=("none",),
    )
    cells = t["cells"].copy()
    cells.loc[0, "code_hash"] = "other"
    out = page.build_report(
        "one", write_tables({**t, "cells": cells}, tmp_path / "t"), None, tmp_path / "one.html"
    )
    html = out.read_text()
    assert "different versions of the code" in html
    assert "one seed" in html and "was trained" in html
    assert 'id="learning-table"' not in html


def one_untrained_cell() -> dict:
    """The tables of one untrained numpy cell."""
    return make_tables(
        seeds=(0,),
        backends=("numpy",),
        trained=False,
        seq_lens=(10,),
        scales=(0.9,),
        remedies=("none",),
    )


def test_saved_figures_are_used(tmp_path):
    t = one_untrained_cell()
    figs = tmp_path / "figs"
    figs.mkdir()
    marker = _tiny_png("saved-figure-marker")
    for name in figures.FIGURES:
        (figs / f"{name}.png").write_bytes(marker)
    out = page.build_report("s", write_tables(t, tmp_path / "t"), figs, tmp_path / "s.html")
    assert out.read_text().count(base64.b64encode(marker).decode()) == len(figures.FIGURES)


def test_a_figure_without_data_is_a_line_not_an_image(tmp_path):
    """An untrained study has nothing for the training figures: save_all writes their
    placeholders (marked in the PNG), and the report names each in a line instead of an image,
    from the saved files as from figures it draws itself."""
    t = one_untrained_cell()
    tables = write_tables(t, tmp_path / "t")
    figs = tmp_path / "figs"
    figures.save_all(t, figs)
    empty = [n for n in figures.FIGURES if figures.FIGURES[n](t) is None]
    assert "training_curves" in empty and "phase_diagram" not in empty
    for saved in (figs, tmp_path / "none"):
        html = page.build_report("s", tables, saved, tmp_path / "s.html").read_text()
        for name in figures.FIGURES:
            image = f'<figure id="fig-{name}">' in html
            line = f'<p class="nodata" id="fig-{name}">' in html
            assert (image, line) == ((False, True) if name in empty else (True, False)), name


def _tiny_png(text: str) -> bytes:
    """A whole 2x2 PNG carrying ``text`` (so two of them differ)."""
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("marker", text)
    buf = io.BytesIO()
    Image.new("RGB", (2, 2), "white").save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


@pytest.mark.parametrize("damage", ["empty", "truncated", "bit flip"])
def test_an_unreadable_saved_figure_is_refused(tmp_path, damage):
    t = one_untrained_cell()
    figs = tmp_path / "figs"
    figs.mkdir()
    big = figures.draw("phase_diagram", t)[0]
    buf = __import__("io").BytesIO()
    big.savefig(buf, format="png")
    data = buf.getvalue()
    for name in figures.FIGURES:
        (figs / f"{name}.png").write_bytes(data)
    bad = {"empty": b"", "truncated": data[: len(data) // 2]}.get(damage)
    if bad is None:  # one bit flipped in the middle of the image data
        bad = bytearray(data)
        bad[len(data) // 2] ^= 0x10
        bad = bytes(bad)
    (figs / "phase_diagram.png").write_bytes(bad)
    with pytest.raises(images.FigureError, match=r"phase_diagram\.png: not a readable PNG"):
        page.build_report("s", write_tables(t, tmp_path / "t"), figs, tmp_path / "s.html")
    assert not (tmp_path / "s.html").exists()


@pytest.mark.slow
def test_thousands_of_cells_stay_small_and_fast(tmp_path):
    # 2,400 cells x 100 lags: figures aggregate, the cells table drops constant columns
    rng = np.random.default_rng(0)
    axes = pd.MultiIndex.from_product(
        [
            ["numpy", "torch"],
            list(analysis.REMEDY_ORDER),
            [100],
            np.geomspace(0.5, 2, 10),
            range(10),
        ],
        names=["backend", "remedy", "seq_len", "w_rec_scale", "seed"],
    ).to_frame(index=False)
    n = len(axes)
    cells = axes.assign(
        cell_id=[
            f"backend={b}/remedy={r}/seq_len=100/w_rec_scale={s:g}/seed={k}"
            for b, r, _, s, k in axes.itertuples(index=False)
        ],
        steps=100,
        model="rnn",
        nonlinearity="tanh",
        hidden=32,
        dtype="float64",
        lr=0.01,
        task="adding",
        init_decay_rate=np.log10(axes["w_rec_scale"]) - 0.1,
        init_log10_grad_ratio=99 * (np.log10(axes["w_rec_scale"]) - 0.1),
        init_spectral_norm=axes["w_rec_scale"] * 1.5,
        init_spectral_radius=axes["w_rec_scale"],
        init_lyapunov_max=np.log(axes["w_rec_scale"]) - 0.2,
        init_profile_seconds=1e-3,
        trained_decay_rate=np.log10(axes["w_rec_scale"]),
        final_loss=rng.random(n) / 6,
        baseline_loss=1 / 6,
        accuracy=rng.random(n),
        status="ok",
        runtime_s=1.0,
        code_hash="abc",
        host="h",
    )
    cells = cells.assign(normalized_loss=cells["final_loss"] * 6, solved=cells["accuracy"] > 0.99)
    lag = np.arange(100)
    prof = pd.DataFrame(
        {
            "cell_id": np.repeat(cells["cell_id"].to_numpy(), 100),
            "phase": "init",
            "lag": np.tile(lag, n),
            "grad_norm": 10.0
            ** (np.repeat(cells["init_decay_rate"].to_numpy(), 100) * np.tile(lag, n)),
        }
    )
    prof = prof.assign(jacobian_norm=prof["grad_norm"], weight_grad_norm=prof["grad_norm"])
    training = pd.DataFrame(
        {
            "cell_id": np.repeat(cells["cell_id"].to_numpy(), 50),
            "step": np.tile(np.arange(50), n),
            "loss": 0.1,
            "param_grad_norm": 1.0,
            "clipped": False,
            "penalty": 0.0,
        }
    )
    tdir = write_tables({"cells": cells, "profiles": prof, "training": training}, tmp_path / "t")
    out = page.build_report("big", tdir, None, tmp_path / "big.html")
    size = out.stat().st_size
    assert size < 20e6, size
    assert out.read_text().count("<td>backend=") == n


# -- a real browser ------------------------------------------------------------------------------
CHECK_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var loaded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var table = document.getElementById("cells-table");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells)
    .map(function (h) { return h.textContent; });
  var col = heads.indexOf("w_rec_scale");
  table.tHead.rows[0].cells[col].click();
  table.tHead.rows[0].cells[col].click();  // descending
  var first = table.tBodies[0].rows[0].cells[col].textContent;
  var box = document.getElementById("cells-filter");
  box.value = "torch";
  box.dispatchEvent(new Event("input"));
  var visible = Array.prototype.filter.call(table.tBodies[0].rows,
    function (r) { return r.style.display !== "none"; }).length;
  var out = document.createElement("pre");
  out.id = "browser-check";
  out.textContent = [imgs.length, loaded, first, visible,
    document.documentElement.getAttribute("data-cells-table")].join("|");
  document.body.appendChild(out);
});
</script>
"""


CHROMIUM_FLAGS = [  # headless, and nothing that would reach the network
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run_chromium(exe, args, tmp_path):
    base = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120)


@pytest.mark.browser
def test_report_in_headless_chromium(built, tmp_path):
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing in CI: .ci/install-chromium.sh installs it")
        pytest.skip("chromium is not installed (run .ci/install-chromium.sh)")
    out, t = built
    page = tmp_path / "check.html"
    head, tail = out.read_text().rsplit("</body>", 1)  # the Vega bundle's strings hold one too
    page.write_text(head + CHECK_SCRIPT + "</body>" + tail)
    dom = _run_chromium(
        exe,
        [
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        tmp_path,
    )
    m = re.search(r'<pre id="browser-check">([^<]*)</pre>', dom.stdout)
    assert m, dom.stderr[-2000:]
    n_img, loaded, first, visible, ready = m.group(1).split("|")
    drawn = len(figures.FIGURES) - out.read_text().count('<p class="nodata"')
    assert int(n_img) == drawn and int(loaded) == int(n_img)
    assert ready == "ready"
    assert float(first) == t["cells"]["w_rec_scale"].max()  # sorted descending
    assert int(visible) == (t["cells"]["backend"] == "torch").sum()
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not [line for line in console if re.search(r"error|uncaught", line, re.I)], console
    shot = tmp_path / "page.png"
    _run_chromium(exe, [f"--screenshot={shot}", "--window-size=1400,3000", out.as_uri()], tmp_path)
    assert shot.exists() and shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 50_000
    keep = os.environ.get("RNNGRAD_SCREENSHOT")  # where to keep the screenshot, to look at it
    if keep:
        shutil.copy(shot, keep)
