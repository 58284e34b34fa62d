"""Plugins (rnngrad.plugins): the worked examples run like built-ins and agree across backends,
a plugin's transform, penalty and task do what the built-ins' arithmetic says they must, and
every bad plugin is refused with a message naming it and the problem."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import rnngrad
from rnngrad import backends
from rnngrad.core import registry, tasks
from rnngrad.core.settings import CellSettings
from rnngrad.core.validation import SettingsError
from rnngrad.core.weights import cell_batch, data_stream, init_params
from rnngrad.run import loop
from rnngrad.run.cell import run_cell
from rnngrad.run.provenance import settings_hash
from rnngrad.study.config import ConfigError, study_from_config

REPO = Path(__file__).resolve().parents[1]
# the package under test, for the commands run in a temporary folder
ENV = {**os.environ, "PYTHONPATH": str(Path(rnngrad.__file__).parents[1])}
EXAMPLES = REPO / "examples"
GRID = {"backend": ["torch"], "seq_len": [12], "w_rec_scale": [0.9], "remedy": ["r"], "seed": [0]}
SMALL = {"hidden": 6, "batch": 4, "train_steps": 0, "jacobian": True}


def study(plugins, remedy=None, base=EXAMPLES, grid=None, **defaults):
    cfg = {
        "study": "p",
        "plugins": plugins,
        "grid": {**GRID, **(grid or {})},
        "defaults": {**SMALL, **defaults},
        "remedies": {"r": remedy or {}, "none": {}},
    }
    return study_from_config(cfg, base)


def one_cell(*args, **kw) -> CellSettings:
    (cell,) = study(*args, **kw).cells.values()
    return cell.settings


def write(tmp_path: Path, name: str, code: str) -> str:
    (tmp_path / name).write_text(textwrap.dedent(code))
    return name


# -- the worked examples --------------------------------------------------------------------
def test_examples_register_their_names_and_cells_declare_them():
    s = one_cell(
        ["plugins/mgu.py", "plugins/grad_noise.py", "plugins/delayed_xor.py"],
        {"model": "mgu", "gradient_transform": "grad_noise"},
        task="delayed_xor",
    )
    kinds = sorted(registry.parse(e)[:2] for e in s.plugins)
    assert kinds == [("model", "mgu"), ("remedy", "grad_noise"), ("task", "delayed_xor")]
    assert registry.get("model", "mgu").params == ("weight_ih", "weight_hh", "bias")
    assert registry.get("model", "mgu").citation.startswith("Zhou")
    plain = one_cell(["plugins/mgu.py"])  # a built-in cell of the same study declares none
    assert plain.plugins == ()


def mgu_case(backend: str):
    s = one_cell(["plugins/mgu.py"], {"model": "mgu"}, grid={"backend": [backend]})
    sp = tasks.spec(s.task, s.seq_len, s.hidden)
    params = init_params(s, sp.n_in, sp.n_out)
    return s, params, cell_batch(s, data_stream(s, "probe"))


def test_a_plugin_model_agrees_across_backends():
    """The MGU's NumPy BPTT (its step's VJP backwards) equals torch autograd through its step:
    loss, every gradient, the per-lag and per-step weight norms and the step Jacobians."""
    (sn, params, batch), (st, _, _) = mgu_case("numpy"), mgu_case("torch")
    out = {}
    for s in (sn, st):
        be = backends.get(s.backend)
        p = be.to_backend(s, params)
        out[s.backend] = (be.loss_and_grads(s, p, batch), be.step_jacobians(s, p, batch, 1))
    (a, Ja), (b, Jb) = out["numpy"], out["torch"]
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-12)
    for k in params:
        np.testing.assert_allclose(a["grads"][k], b["grads"][k], rtol=1e-9, atol=1e-13)
    for k in ("log10_grad_norm", "log10_weight_grad_norm"):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(Ja, Jb, rtol=1e-9, atol=1e-13)


def test_the_torch_profile_of_a_plugin_matches_per_step_autograd():
    """Independently of the adapter's views: step t's term of dL/dW_hh is the gradient of the
    loss with respect to a copy of W_hh read at step t alone; ||dL/dh_t|| likewise."""
    s, params, batch = mgu_case("torch")
    be = backends.get("torch")
    got = be.loss_and_grads(s, be.to_backend(s, params), batch)
    mgu = registry.obj("model", "mgu")
    p = {k: torch.tensor(v) for k, v in params.items()}
    T = batch.steps
    copies = [p["weight_hh"].clone().requires_grad_() for _ in range(T)]
    h = [torch.zeros(batch.batch, s.hidden, dtype=torch.float64, requires_grad=True)]
    for t in range(T):
        h.append(mgu.step({**p, "weight_hh": copies[t]}, h[-1], torch.tensor(batch.x[t])))
        h[-1].retain_grad()
    y = h[-1] @ p["weight_out"].T + p["bias_out"]
    loss = ((y - torch.tensor(batch.targets[0])) ** 2).mean()
    loss.backward()
    terms = np.array([c.grad.norm().item() for c in copies])
    np.testing.assert_allclose(got["weight_grad_norm"], terms, rtol=1e-9)
    states = np.array([v.grad.norm().item() for v in h])
    np.testing.assert_allclose(got["grad_norm"], states, rtol=1e-9)


def test_a_plugin_cell_runs_with_metrics_and_provenance():
    s = one_cell(["plugins/mgu.py"], {"model": "mgu"}, train_steps=5)
    rec = run_cell(s, "mgu")
    m = rec["metrics"]
    assert m["status"] == "ok" and np.isfinite(m["init_lyapunov_max"])
    assert m["init_spectral_radius"] == pytest.approx(0.9)  # U_c, drawn at w_rec_scale
    path, _, sha = rec["provenance"]["plugin_sources"].partition("@")
    assert Path(path) == EXAMPLES / "plugins" / "mgu.py" and len(sha) == 64


def test_a_gradient_transform_that_halves_is_half_the_learning_rate(tmp_path):
    """SGD with grads halved by a plugin transform takes the steps of half the learning rate."""
    name = write(
        tmp_path,
        "halve.py",
        """
        class Halve:
            '''Halves every gradient.'''
            def transform(self, grads, state, settings):
                return {k: 0.5 * g for k, g in grads.items()}
        REMEDIES = {"halve": Halve()}
        """,
    )
    for backend in ("numpy", "torch"):
        kw = {
            "grid": {"backend": [backend]},
            "train_steps": 3,
            "optimizer": "sgd",
            "base": tmp_path,
        }
        s = one_cell([name], {"gradient_transform": "halve"}, lr=0.02, **kw)
        ref = one_cell([name], {}, lr=0.01, **kw)
        params = init_params(s, 2, 1)
        a, b = loop.train(s, params)["params"], loop.train(ref, params)["params"]
        for k in params:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-15)


def test_a_plugin_penalty_gives_the_built_in_l2_gradient(tmp_path):
    name = write(
        tmp_path,
        "l2.py",
        """
        class L2:
            '''||W_hh||_F^2, as a plugin.'''
            def penalty(self, params, settings):
                return (params["weight_hh"] ** 2).sum()
        REMEDIES = {"my_l2": L2()}
        """,
    )
    s = one_cell([name], {"penalty": {"kind": "my_l2", "weight": 0.1}}, base=tmp_path)
    ref = dataclasses.replace(s, penalty=dataclasses.replace(s.penalty, kind="l2_wrec"))
    be, bk = backends.get("torch"), backends.training("torch")
    params = init_params(s, 2, 1)
    batch = cell_batch(s, data_stream(s, "train"))
    p = be.to_backend(s, params)
    (la, ga, va), (lb, gb, vb) = bk.gradient(s, p, batch), bk.gradient(ref, p, batch)
    assert la == pytest.approx(lb) and va == pytest.approx(vb)
    for k in params:
        np.testing.assert_allclose(ga[k].numpy(), gb[k].numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(ConfigError, match="plugin penalty 'my_l2' is a torch function"):
        study(
            [name],
            {"penalty": {"kind": "my_l2", "weight": 0.1}},
            base=tmp_path,
            grid={"backend": ["numpy"]},
        )


def test_plugin_remedies_get_colours_of_their_own():
    from rnngrad.report import figstyle

    assert not set(figstyle.EXTRA_COLOURS) & set(figstyle.REMEDY_COLOURS.values())
    assert figstyle.remedy_colour("grad_noise") in figstyle.EXTRA_COLOURS


def test_a_plugin_task_draws_from_the_cells_stream():
    s = one_cell(["plugins/delayed_xor.py"], task="delayed_xor")
    a, b = (cell_batch(s, data_stream(s, "train")) for _ in range(2))
    np.testing.assert_array_equal(a.x, b.x)
    bits, marks = (a.x[..., 0] > 0).astype(int), a.x[..., 1]
    idx = [np.flatnonzero(marks[:, i]) for i in range(a.batch)]
    xor = [bits[i, j] ^ bits[k, j] for j, (i, k) in enumerate(idx)]
    np.testing.assert_array_equal(a.targets[0], xor)
    assert tasks.baseline_loss("delayed_xor", 12) == pytest.approx(np.log(2))
    onehot = np.eye(2)[a.targets[0]][None]
    assert tasks.accuracy("delayed_xor", onehot, a) == 1.0


def test_overflow_in_a_plugin_is_a_status(tmp_path):
    name = write(
        tmp_path,
        "boom.py",
        """
        import torch
        class Boom:
            '''Multiplies the state by 1e200 a step.'''
            def init(self, settings, n_in, rng):
                return {"w": rng.standard_normal((settings.hidden, n_in))}
            def step(self, params, h, x):
                return 1e200 * h + x @ params["w"].T
        MODELS = {"boom": Boom()}
        """,
    )
    s = one_cell([name], {"model": "boom"}, base=tmp_path, train_steps=2)
    assert run_cell(s, "boom")["metrics"]["status"] == "exploded"


# -- validation -----------------------------------------------------------------------------
def test_a_numpy_cell_of_a_torch_only_model_is_refused(tmp_path):
    name = write(
        tmp_path,
        "leaky.py",
        """
        import torch
        class Leaky:
            '''h_t = h_{t-1} / 2 + tanh(W x_t).'''
            def init(self, settings, n_in, rng):
                return {"weight_ih": rng.standard_normal((settings.hidden, n_in))}
            def step(self, params, h, x):
                return 0.5 * h + torch.tanh(x @ params["weight_ih"].T)
        MODELS = {"leaky": Leaky()}
        """,
    )
    with pytest.raises(ConfigError, match="plugin model 'leaky' has a torch step only") as e:
        study([name], {"model": "leaky"}, grid={"backend": ["numpy"]}, base=tmp_path)
    assert "backend" in str(e.value)
    with pytest.raises(ConfigError, match="has no weight_hh to penalize"):
        study(
            [name], {"model": "leaky", "penalty": {"kind": "l2_wrec", "weight": 1.0}}, base=tmp_path
        )


def test_a_record_of_a_plugin_cell_reads_back_without_the_plugin():
    """The tables' process never imports a plugin: a name the cell declares validates."""
    s = one_cell(["plugins/mgu.py"], {"model": "mgu"})
    d = s.to_dict()
    key = ("model", "mgu")
    saved = registry.PLUGINS.pop(key)
    try:
        assert CellSettings.from_dict(d) == s
        with pytest.raises(SettingsError, match=r"model: must be one of .*or a model a plugin"):
            CellSettings.from_dict({**d, "plugins": []})
    finally:
        registry.PLUGINS[key] = saved


def test_the_plugin_hash_enters_the_hash_of_exactly_its_cells(tmp_path):
    src = (EXAMPLES / "plugins" / "grad_noise.py").read_text()
    (tmp_path / "noise.py").write_text(src.replace('"grad_noise"', '"noise_a"'))
    before = study(
        ["noise.py"],
        {"gradient_transform": "noise_a"},
        base=tmp_path,
        grid={"remedy": ["r", "none"]},
    )
    (tmp_path / "noise.py").write_text(src.replace('"grad_noise"', '"noise_a"') + "# edited\n")
    after = study(
        ["noise.py"],
        {"gradient_transform": "noise_a"},
        base=tmp_path,
        grid={"remedy": ["r", "none"]},
    )
    changed = {
        c
        for c in before.cells
        if settings_hash(before.cells[c].settings) != settings_hash(after.cells[c].settings)
    }
    assert changed == {c for c in before.cells if "remedy=r/" in c}


# -- bad plugins: each refused when the config is read, the message naming plugin and problem
BAD = {
    "missing file": (None, "plugin nowhere.py: no such file"),
    "import error": (
        "x = 1 / 0\n",
        "importing .*bad.py failed: ZeroDivisionError: division by zero",
    ),
    "not a module": ("", "registers nothing; define MODELS, REMEDIES or TASKS"),
    "no step": (
        "class M:\n    def init(self, s, n, rng): return {}\nMODELS = {'m': M()}\n",
        r"model 'm' \(M\) does not satisfy the Model Protocol: it has no step",
    ),
    "wrong shape": (
        "import numpy as np, torch\n"
        "class M:\n"
        "    def init(self, s, n, rng): return {'w': rng.standard_normal((s.hidden, n))}\n"
        "    def step(self, p, h, x): return torch.cat([h, h], -1)\n"
        "MODELS = {'m': M()}\n",
        r"model 'm': step returned shape \(3, 8\) .*must return h_t of shape \(B, H\) = \(3, 4\)",
    ),
    "numpy disagrees": (
        "import numpy as np, torch\n"
        "class M:\n"
        "    def init(self, s, n, rng): return {'w': rng.standard_normal((s.hidden, n))}\n"
        "    def step(self, p, h, x): return torch.tanh(h + x @ p['w'].T)\n"
        "    def numpy_step(self, p, h, x): return np.tanh(h + x @ p['w'].T) + 1e-3\n"
        "    def numpy_step_vjp(self, p, h, x, dh): return dh, {}\n"
        "MODELS = {'m': M()}\n",
        "numpy_step and step disagree by 0.001 on the probe batch",
    ),
    "built-in name": (
        "class M:\n    def init(self, s, n, rng): return {}\n"
        "    def step(self, p, h, x): return h\n"
        "MODELS = {'lstm': M()}\n",
        "model 'lstm': the name is a built-in model's; choose another",
    ),
    "task shape": (
        "import numpy as np\nfrom rnngrad.core.tasks import Batch\n"
        "class T:\n    n_in, n_out = 2, 1\n"
        "    def make_batch(self, T, B, rng):\n"
        "        x, y = np.zeros((T, B, 3)), np.zeros((1, B, 1))\n"
        "        return Batch(x, y, np.array([T]), 'mse', 1.0, 1)\n"
        "    def baseline_loss(self, T): return 1.0\n"
        "    def correct(self, y, b): return np.ones(b.batch, bool)\n"
        "TASKS = {'t': T()}\n",
        r"task 't': make_batch\(4, 3, rng\) returned x of shape \(4, 3, 3\), not .*\(4, 3, 2\)",
    ),
    "transform drops gradients": (
        "class R:\n    def transform(self, g, state, s): return {}\nREMEDIES = {'r': R()}\n",
        "remedy 'r': transform must return a dict with every gradient's name",
    ),
    "remedy without either": (
        "class R:\n    pass\nREMEDIES = {'r': R()}\n",
        "does not satisfy the GradientTransform or Penalty Protocol: it has no penalty, transform",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_plugin_is_refused_naming_it(tmp_path, case):
    code, message = BAD[case]
    source = "nowhere.py" if code is None else write(tmp_path, "bad.py", code)
    with pytest.raises(ConfigError, match=message) as e:
        study([source], base=tmp_path)
    first = str(e.value).split(": ")[1]  # the plugin, as the config names it or resolved
    assert first.startswith("plugin ") and first.endswith(source), str(e.value)


def test_rnngrad_validate_prints_the_plugins_problem(tmp_path):
    write(tmp_path, "bad.py", BAD["wrong shape"][0])
    cfg = {"study": "p", "plugins": ["bad.py"], "grid": GRID, "remedies": {"r": {}}}
    (tmp_path / "study.yaml").write_text(json.dumps(cfg))
    out = subprocess.run(
        [sys.executable, "-m", "rnngrad", "validate", "--configfile", str(tmp_path / "study.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=ENV,
    )
    assert out.returncode == 1
    assert "plugin bad.py: model 'm': step returned shape (3, 8)" in out.stderr


def test_a_plugin_raising_in_a_cell_fails_that_cell_with_its_traceback(tmp_path):
    write(
        tmp_path,
        "late.py",
        """
        import torch
        class Late:
            '''Raises after ten steps (the probe runs one).'''
            def init(self, settings, n_in, rng):
                return {"w": rng.standard_normal((settings.hidden, n_in))}
            def step(self, params, h, x):
                if h.abs().sum() > 0 and x.shape[0] == 4:
                    raise RuntimeError("late plugin failure")
                return torch.tanh(h + x @ params["w"].T)
        MODELS = {"late": Late()}
        """,
    )
    s = study(["late.py"], {"model": "late"}, base=tmp_path).cells
    (cell,) = s.values()
    log = tmp_path / "cell.log"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnngrad",
            "cell",
            "--settings-json",
            cell.settings_json,
            "--cell-id",
            cell.cell_id,
            "--out",
            str(tmp_path / "r.json"),
            "--log",
            str(log),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=ENV,
    )
    assert out.returncode == 3 and not (tmp_path / "r.json").exists()
    text = log.read_text()
    assert "Traceback" in text and "RuntimeError: late plugin failure" in text
    assert "late.py" in text  # the plugin's frame


def test_a_cell_refuses_a_plugin_edited_since_the_config_was_read(tmp_path):
    src = (EXAMPLES / "plugins" / "grad_noise.py").read_text().replace('"grad_noise"', '"noise_b"')
    (tmp_path / "noise.py").write_text(src)
    (cell,) = study(["noise.py"], {"gradient_transform": "noise_b"}, base=tmp_path).cells.values()
    (tmp_path / "noise.py").write_text(src + "# edited\n")
    out = subprocess.run(
        [sys.executable, "-m", "rnngrad", "cell", "--settings-json", cell.settings_json],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=ENV,
    )
    assert out.returncode == 1
    assert "noise.py: its file changed since the settings were made" in out.stderr


# -- the workflow ----------------------------------------------------------------------------
HALVE = '''
class Halve:
    """Halves every gradient."""
    def transform(self, grads, state, settings):
        if settings.seq_len == 20 and settings.lr == 0.02:
            raise RuntimeError("halve fails on this cell")
        return {k: 0.5 * g for k, g in grads.items()}
REMEDIES = {"halve": Halve()}
'''


@pytest.mark.slow
def test_editing_a_plugin_reruns_exactly_its_cells(tmp_path):
    """Through Snakemake: the plugin file is an input of its cells; after an edit the dry run
    schedules exactly them; a cell whose plugin raises fails alone, its traceback in its log."""
    from test_pipeline import job_counts, records, snakemake, workflow_copy, write_study

    root = workflow_copy(tmp_path)
    (root / "config" / "studies" / "plugins").mkdir()
    plugin = root / "config" / "studies" / "plugins" / "halve.py"
    plugin.write_text(HALVE)
    cfg = {
        "study": "plug",
        "plugins": ["plugins/halve.py"],  # relative to the study file
        "grid": {**GRID, "backend": ["numpy"], "seq_len": [10, 20], "remedy": ["none", "halve"]},
        "defaults": {"hidden": 4, "batch": 4, "train_steps": 3, "jacobian": False},
        "remedies": {"none": {}, "halve": {"gradient_transform": "halve"}},
    }
    write_study(root, cfg)
    snakemake(root, "--until", "cell", study="plug")
    assert len(records(root, "plug")) == 4
    plugin.write_text(HALVE + "# an edit\n")
    dry = snakemake(root, "-n", study="plug").stdout
    assert job_counts(dry)["cell"] == 2
    rerun = set(re.findall(r"cell_id=(\S+)", dry))
    assert rerun == {
        f"backend=numpy/remedy=halve/seq_len={n}/w_rec_scale=0.9/seed=0" for n in (10, 20)
    }

    cfg["remedies"]["fails"] = {"gradient_transform": "halve", "lr": 0.02}
    cfg["grid"]["remedy"].append("fails")
    write_study(root, cfg)
    out = snakemake(root, "--until", "cell", "--keep-going", study="plug", check=False)
    assert out.returncode != 0
    failed = "backend=numpy/remedy=fails/seq_len=20/w_rec_scale=0.9/seed=0"
    assert set(records(root, "plug")) == {c for c in study_ids(cfg) if c != failed}
    log = (root / "logs" / "plug" / "cells" / f"{failed}.log").read_text()
    assert "Traceback" in log and "RuntimeError: halve fails on this cell" in log


def study_ids(cfg) -> set[str]:
    g = cfg["grid"]
    return {
        f"backend={b}/remedy={r}/seq_len={n}/w_rec_scale=0.9/seed=0"
        for b in g["backend"]
        for r in g["remedy"]
        for n in g["seq_len"]
    }


def test_the_report_describes_a_plugin_remedy_by_its_docstring_and_citation():
    from rnngrad.report.remedies import plugin_list, remedy_notes
    from rnngrad.study.status import report_config

    s = study(["plugins/mgu.py"], {"model": "mgu"}, grid={"remedy": ["r", "none"]})
    config = report_config(s)
    (note,) = remedy_notes(["r"], config)
    assert note["text"].startswith("Plugin mgu (model): Minimal gated unit: a single forget gate")
    assert note["ref"].startswith("Zhou, Wu, Zhang and Zhou 2016")
    assert note["settings"] == "{model: mgu}"
    (entry,) = plugin_list(config)
    assert entry["source"].endswith("examples/plugins/mgu.py") and len(entry["sha"]) == 16
    assert remedy_notes(["none"], config)[0]["text"].startswith("Plain full backpropagation")


def test_a_plugin_set_for_one_task_reaches_that_tasks_cells_and_the_report():
    from rnngrad.report.remedies import remedy_notes
    from rnngrad.study.status import report_config

    s = study(
        ["plugins/grad_noise.py"],
        {"by_task": {"copy": {"gradient_transform": "grad_noise"}}},
        grid={"remedy": ["r"], "task": ["adding", "copy"]},
    )
    used = {i.rsplit("task=", 1)[1]: c.settings.plugins for i, c in s.cells.items()}
    assert not used["adding"] and len(used["copy"]) == 1 and "grad_noise" in used["copy"][0]
    (note,) = remedy_notes(["r"], report_config(s))
    assert note["text"].startswith("Plugin grad_noise (remedy)")


def test_a_torch_module_as_a_plugin_gives_the_built_in_rnns_profile(tmp_path):
    """torch.nn.RNNCell through torch.func.functional_call (docs/plugins.md), with the built-in
    rnn's initial weights: its profile, Jacobians and gradients are the built-in rnn's."""
    name = write(
        tmp_path,
        "cell.py",
        """
        import dataclasses
        import torch
        from rnngrad.core.weights import init_params

        class TorchRNNCell:
            '''torch.nn.RNNCell (tanh), its weights drawn as the built-in rnn's.'''
            recurrent = ("weight_hh",)

            def init(self, settings, n_in, rng):
                own = init_params(dataclasses.replace(settings, model="rnn"), n_in, 1)
                return {k: v for k, v in own.items() if not k.endswith("_out")}

            def step(self, params, h, x):
                cell = torch.nn.RNNCell(x.shape[-1], h.shape[-1], dtype=h.dtype, device="meta")
                return torch.func.functional_call(cell, params, (x, h))

        MODELS = {"rnncell": TorchRNNCell()}
        """,
    )
    s = one_cell([name], {"model": "rnncell"}, base=tmp_path)
    ref = dataclasses.replace(s, model="rnn", plugins=())
    be = backends.get("torch")
    params = init_params(ref, 2, 1)
    mine = init_params(s, 2, 1)
    assert set(mine) == set(params)
    batch = cell_batch(s, data_stream(s, "probe"))
    a = be.loss_and_grads(s, be.to_backend(s, params), batch)
    b = be.loss_and_grads(ref, be.to_backend(ref, params), batch)
    for k in ("log10_grad_norm", "log10_weight_grad_norm"):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-12)
    for k in params:
        np.testing.assert_allclose(a["grads"][k], b["grads"][k], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        be.step_jacobians(s, be.to_backend(s, params), batch),
        be.step_jacobians(ref, be.to_backend(ref, params), batch),
        rtol=1e-12,
        atol=1e-15,
    )


def test_a_numpy_plugin_profile_stays_exact_far_below_float64(tmp_path):
    """A step that shrinks dL/dh a hundredfold: after 400 steps the norm is near 1e-800, out of
    float64's range; the NumPy BPTT's scaled carry gives torch's exact log10 norms."""
    name = write(
        tmp_path,
        "shrink.py",
        """
        import numpy as np, torch
        class Shrink:
            '''h_t = h_{t-1} / 100 + W x_t.'''
            def init(self, settings, n_in, rng):
                return {"w": rng.standard_normal((settings.hidden, n_in))}
            def step(self, p, h, x):
                return 0.01 * h + x @ p["w"].T
            def numpy_step(self, p, h, x):
                return 0.01 * h + x @ p["w"].T
            def numpy_step_vjp(self, p, h, x, dh):
                return 0.01 * dh, {"w": dh.T @ x}
        MODELS = {"shrink": Shrink()}
        """,
    )
    out = {}
    for backend in ("numpy", "torch"):
        grid = {"backend": [backend], "seq_len": [400]}
        s = one_cell([name], {"model": "shrink"}, base=tmp_path, grid=grid)
        be = backends.get(backend)
        params = init_params(s, 2, 1)
        out[backend] = be.loss_and_grads(
            s, be.to_backend(s, params), cell_batch(s, data_stream(s, "probe"))
        )
    a, b = out["numpy"]["log10_grad_norm"], out["torch"]["log10_grad_norm"]
    assert np.all(np.isfinite(a)) and a[0] < -790
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(
        out["numpy"]["log10_weight_grad_norm"], out["torch"]["log10_weight_grad_norm"], rtol=1e-12
    )
