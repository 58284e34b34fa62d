"""Config validation and grid expansion (rnngrad.study.config), and what the pipeline does with
a bad config: refused before any job, naming the key path and the value, without torch."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_pipeline import REPO, workflow_copy

from rnngrad.study.config import ConfigError, load_study, read_config, study_from_config

BASE = read_config([REPO / "config" / "config.yaml"])


def with_change(change) -> dict:
    cfg = copy.deepcopy(BASE)
    change(cfg)
    return cfg


# (name, change, expected key path, expected value in the message)
BAD = [
    (
        "negative seq_len",
        lambda c: c["grid"].update(seq_len=[10, 30, -5]),
        "grid.seq_len[2]: must be an integer >= 1",
        "(value -5)",
    ),
    ("float seq_len", lambda c: c["grid"].update(seq_len=[1.5]), "grid.seq_len[0]", "1.5"),
    ("misspelt top key", lambda c: c.update(grdi={}), "grdi: unknown key", "did you mean 'grid'"),
    ("misspelt default", lambda c: c["defaults"].update(hiden=3), "defaults.hiden", "(value 3)"),
    (
        "bad remedy threshold",
        lambda c: c["remedies"]["clip_norm"]["clip"].update(threshold=-1),
        "remedies.clip_norm.clip.threshold",
        "(value -1)",
    ),
    ("undefined remedy", lambda c: c["grid"]["remedy"].append("foo"), "grid.remedy[8]", "'foo'"),
    (
        "axis and remedy",
        lambda c: c["grid"].update(init=["gaussian"]),
        "remedies.orthogonal_init.init: set both by the grid axis grid.init",
        "'orthogonal'",
    ),
    (
        "gated and relu",
        lambda c: c["grid"].update(remedy=["lstm"], nonlinearity=["relu"]),
        "grid.nonlinearity[0]",
        "'relu'",
    ),
    (
        "esn with clip",
        lambda c: c["remedies"]["esn"].update(clip={"kind": "norm", "threshold": 1}),
        "remedies.esn.clip",
        "esn",
    ),
    (
        "truncate k1 < 1",
        lambda c: c["remedies"]["truncated_bptt"]["truncate"].update(k1=0),
        "remedies.truncated_bptt.truncate.k1",
        "(value 0)",
    ),
    (
        "task too short",
        lambda c: (c["defaults"].update(task="temporal_order"), c["grid"].update(seq_len=[5, 30])),
        "grid.seq_len[0]: task 'temporal_order' needs seq_len >= 10",
        "(value 5)",
    ),
    ("empty axis", lambda c: c["grid"].update(backend=[]), "grid.backend", "[]"),
    ("unknown backend", lambda c: c["grid"].update(backend=["jax"]), "grid.backend[0]", "'jax'"),
    ("missing axis", lambda c: c["grid"].pop("seed"), "grid.seed: required", "missing"),
    ("study with a slash", lambda c: c.update(study="a/b"), "study", "'a/b'"),
    (
        "string for a flag",
        lambda c: c["defaults"].update(jacobian="yes"),
        "defaults.jacobian",
        "'yes'",
    ),
    (
        "stop when solved without evaluations",
        lambda c: c["defaults"].update(stop_when_solved=True, eval_every=0),
        "stop_when_solved",
        "eval_every 0",
    ),
    (
        "eval_every below 0",
        lambda c: c["defaults"].update(eval_every=-5),
        "defaults.eval_every",
        "-5",
    ),
    ("scalar for clip", lambda c: c["defaults"].update(clip=3), "defaults.clip", "(value 3)"),
    ("value twice", lambda c: c["grid"].update(w_rec_scale=[1, 1.0]), "grid.w_rec_scale", "twice"),
    (
        "unknown remedy key",
        lambda c: c["remedies"]["lstm"].update(gates=4),
        "remedies.lstm.gates: unknown key",
        "(value 4)",
    ),
    (
        "pascanu on an lstm",
        lambda c: c["remedies"]["lstm"].update(penalty={"kind": "pascanu", "weight": 1.0}),
        "remedies.lstm.penalty.kind",
        "'pascanu'",
    ),
    (
        "printed Omega on an lstm",
        lambda c: c["remedies"]["lstm"].update(penalty={"kind": "pascanu_printed", "weight": 1.0}),
        "remedies.lstm.penalty.kind",
        "'pascanu_printed'",
    ),
    (
        "by_task naming no task",
        lambda c: c["remedies"]["lstm"].update(by_task={"cpy": {"lr": 0.1}}),
        "remedies.lstm.by_task: must be one of adding",
        "(value 'cpy')",
    ),
    (
        "by_task setting the task",
        lambda c: c["remedies"]["lstm"].update(by_task={"copy": {"task": "adding"}}),
        "remedies.lstm.by_task.copy.task: a task's settings cannot set task",
        "(value 'adding')",
    ),
    (
        "by_task setting a grid axis",
        lambda c: c["remedies"]["lstm"].update(by_task={"adding": {"seed": 3}}),
        "remedies.lstm.by_task.adding.seed: unknown key",
        "(value 3)",
    ),
    (
        "by_task and the grid",
        lambda c: (
            c["grid"].update(lr=[0.1]),
            c["remedies"]["lstm"].update(by_task={"adding": {"lr": 0.2}}),
        ),
        "remedies.lstm.by_task.adding.lr: set both by the grid axis grid.lr",
        "(value 0.2)",
    ),
    (
        "by_task settings that do not fit",
        lambda c: c["remedies"]["lstm"].update(by_task={"adding": {"nonlinearity": "relu"}}),
        "remedies.lstm.by_task.adding.nonlinearity",
        "'relu'",
    ),
]


@pytest.mark.parametrize("name,change,where,value", BAD, ids=[b[0] for b in BAD])
def test_bad_config_names_key_and_value(name, change, where, value):
    with pytest.raises(ConfigError) as e:
        study_from_config(with_change(change))
    assert where in str(e.value) and value in str(e.value)


def test_default_config_expands_in_a_stable_order():
    study = load_study(root=REPO)
    g = BASE["grid"]
    assert study.name == "default"
    assert len(study.cells) == (
        len(g["backend"])
        * len(g["seq_len"])
        * len(g["w_rec_scale"])
        * len(g["remedy"])
        * len(g["seed"])
    )
    first = next(iter(study.cells))
    assert first == "backend=numpy/remedy=none/seq_len=10/w_rec_scale=0.5/seed=0"


def test_ids_are_canonical_and_extra_axes_follow_in_config_order():
    cfg = with_change(
        lambda c: c["grid"].update(
            backend=["numpy"],
            seq_len=[30],
            w_rec_scale=[1],
            remedy=["none"],
            hidden=[8],
            jacobian=[False],
            ridge=[1e-6],
        )
    )
    study = study_from_config(cfg)
    ((cell_id, cell),) = study.cells.items()
    assert cell_id == (
        "backend=numpy/remedy=none/seq_len=30/w_rec_scale=1.0/seed=0/hidden=8/"
        "jacobian=false/ridge=1e-06"
    )
    assert cell.settings.extra_axes == ("hidden", "jacobian", "ridge")
    assert json.loads(cell.settings_json)["w_rec_scale"] == 1.0
    assert isinstance(json.loads(cell.settings_json)["w_rec_scale"], float)


def test_a_later_setting_at_its_default_leaves_the_job_parameter_unchanged():
    """Snakemake reruns a job whose parameter changed: the settings added after records
    existed (HASHED_WHEN_SET) stay out of it at their default, and the cell job fills them
    back in; set to another value, they enter it."""
    from rnngrad.core.settings import HASHED_WHEN_SET, CellSettings

    one = {"backend": ["numpy"], "seq_len": [30], "w_rec_scale": [1.0], "remedy": ["none"]}
    study = study_from_config(with_change(lambda c: c["grid"].update(one)))
    ((_, cell),) = study.cells.items()
    sent = json.loads(cell.settings_json)
    assert not set(HASHED_WHEN_SET) & set(sent)
    assert CellSettings.from_dict(sent) == cell.settings
    changed = cell.settings.replace(heldout_sequences=2000)
    assert changed.canonical()["heldout_sequences"] == 2000


def test_settings_resolve_defaults_then_grid_then_remedy():
    cfg = with_change(
        lambda c: (
            c["defaults"].update(lr=0.5, input_scale=2.0),
            c["grid"].update(lr=[0.1]),
            c["remedies"].update(smart_init={"init": "sparse", "input_scale": 0.1}),
        )
    )
    cfg["grid"]["remedy"] = ["smart_init"]
    s = next(iter(study_from_config(cfg).cells.values())).settings
    assert (s.lr, s.input_scale, s.init) == (0.1, 0.1, "sparse")


def test_by_task_settings_reach_only_their_tasks_cells():
    def change(c):
        c["grid"].update(task=["adding", "copy"])
        c["remedies"]["lstm"].update(lr=0.2, by_task={"copy": {"lr": 0.05, "hidden": 16}})

    a = study_from_config(with_change(lambda c: c["grid"].update(task=["adding", "copy"])))
    b = study_from_config(with_change(change))
    assert set(a.cells) == set(b.cells)
    for i, cell in b.cells.items():
        s = cell.settings
        if "/remedy=lstm/" not in i:
            assert cell.settings_json == a.cells[i].settings_json
        elif i.endswith("/task=copy"):
            assert (s.lr, s.hidden) == (0.05, 16)
        else:
            assert (s.lr, s.hidden) == (0.2, 32)


def test_schema_defaults_fill_a_minimal_config():
    study = study_from_config(
        {
            "grid": {
                "backend": ["numpy"],
                "seq_len": [10],
                "w_rec_scale": [0.9],
                "remedy": ["none"],
                "seed": [0],
            }
        }
    )
    s = study.cells["backend=numpy/remedy=none/seq_len=10/w_rec_scale=0.9/seed=0"].settings
    assert study.name == "default" and (s.hidden, s.train_steps, s.ridge) == (32, 100, 1e-6)


def test_a_remedy_change_changes_only_its_cells():
    a = study_from_config(BASE)
    b = study_from_config(
        with_change(lambda c: c["remedies"]["clip_norm"]["clip"].update(threshold=0.5))
    )
    changed = {i for i in a.cells if a.cells[i].settings_json != b.cells[i].settings_json}
    assert changed == {i for i in a.cells if "/remedy=clip_norm/" in i}


def test_study_file_merges_key_by_key(tmp_path):
    study = tmp_path / "small.yaml"
    study.write_text(
        yaml.safe_dump({"study": "small", "grid": {"seq_len": [10]}, "defaults": {"hidden": 8}})
    )
    s = load_study([study], root=REPO)
    assert s.name == "small" and {c.settings.seq_len for c in s.cells.values()} == {10}
    assert {c.settings.hidden for c in s.cells.values()} == {8}
    assert {c.settings.backend for c in s.cells.values()} == set(BASE["grid"]["backend"])


def test_study_file_with_bad_yaml_is_a_config_error(tmp_path):
    study = tmp_path / "bad.yaml"
    study.write_text("grid: [1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML"):
        load_study([study], root=REPO)


def test_validation_never_imports_torch():
    code = (
        "import sys; from rnngrad.study.config import load_study; "
        f"load_study(root={str(REPO)!r}); assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture
def bad_workflow(tmp_path):
    root = workflow_copy(tmp_path)
    cfg = with_change(lambda c: c["grid"].update(seq_len=[10, 30, -5]))
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    return root


def test_rnngrad_validate_refuses(bad_workflow):
    out = subprocess.run(
        ["rnngrad", "validate", "--root", str(bad_workflow)], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert "grid.seq_len[2]: must be an integer >= 1 (value -5)" in out.stderr


def test_snakemake_refuses_before_any_job(bad_workflow):
    out = subprocess.run(
        ["snakemake", "-n", "--cores", "1"], cwd=bad_workflow, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert "grid.seq_len[2]: must be an integer >= 1 (value -5)" in out.stdout + out.stderr
    out = subprocess.run(
        ["snakemake", "--cores", "1"], cwd=bad_workflow, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert not (bad_workflow / "results").exists() and not (bad_workflow / "logs").exists()


def test_snakemake_refuses_a_misspelt_key_from_the_command_line(tmp_path):
    root = workflow_copy(tmp_path)
    out = subprocess.run(
        ["snakemake", "-n", "--cores", "1", "--config", "studdy=x"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "studdy: unknown key" in out.stdout + out.stderr
    assert not Path(root / "results").exists()


def alias_bomb(levels: int = 9) -> str:
    """YAML whose anchors nest ``levels`` deep under an unknown key: 9**levels strings when
    expanded (2.5 GB of repr at nine levels), a few hundred bytes as written."""
    lines = ["bomb:", '  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_with_a_short_message(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    with pytest.raises(ConfigError, match="expands to more than") as e:
        load_study([path], root=REPO)
    assert len(str(e.value)) < 500
    # the same bomb handed over as a mapping (Snakemake's own reading of --configfile)
    with pytest.raises(ConfigError, match="expands to more than"):
        study_from_config({**BASE, **yaml.safe_load(path.read_text())})


def test_alias_bomb_through_snakemake_dry_run(tmp_path):
    root = workflow_copy(tmp_path)
    (root / "bomb.yaml").write_text(alias_bomb())
    out = subprocess.run(
        ["snakemake", "-n", "--cores", "1", "--configfile", "bomb.yaml"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,  # was: 35 s and a MemoryError
    )
    assert out.returncode != 0 and "expands to more than" in out.stdout + out.stderr
    assert len(out.stdout + out.stderr) < 20_000


def test_messages_show_a_bounded_value():
    huge = {"x" * 50: list(range(10_000))}
    with pytest.raises(ConfigError) as e:
        study_from_config(with_change(lambda c: c["defaults"].update(hidden=huge)))
    assert "defaults.hidden" in str(e.value) and len(str(e.value)) < 600
    with pytest.raises(ConfigError) as e:
        study_from_config(with_change(lambda c: c.update(extra="y" * 100_000)))
    assert "extra: unknown key" in str(e.value) and len(str(e.value)) < 600


@pytest.mark.parametrize("where", ["study", "remedy"])
def test_a_name_with_a_final_newline_is_refused(where):
    if where == "study":
        change = lambda c: c.update(study="tiny\n")  # noqa: E731
    else:
        change = lambda c: (  # noqa: E731
            c["remedies"].update({"none\n": {}}),
            c["grid"].update(remedy=["none\n"]),
        )
    with pytest.raises(ConfigError, match=r"not a valid name|must be a string made of"):
        study_from_config(with_change(change))


def test_yaml_12_floats_are_numbers(tmp_path):
    """``lr: 1e-3`` reads as a string in YAML 1.1 (PyYAML, and Snakemake's reading of config
    files): accepted as the number it means, in a study file and in a mapping alike."""
    text = (
        "defaults: {lr: 1e-3, ridge: 1E-6}\n"
        "remedies: {clip_norm: {clip: {kind: norm, threshold: 5e-1}}}\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(text)
    as_snakemake = with_change(  # the strings YAML 1.1 makes of them
        lambda c: (
            c["defaults"].update(lr="1e-3", ridge="1E-6"),
            c["remedies"]["clip_norm"]["clip"].update(threshold="5e-1"),
        )
    )
    for study in (load_study([path], root=REPO), study_from_config(as_snakemake)):
        s = next(c.settings for c in study.cells.values() if c.settings.remedy == "clip_norm")
        assert (s.lr, s.ridge, s.clip.threshold) == (0.001, 1e-6, 0.5)
    with pytest.raises(ConfigError, match=r"defaults\.lr"):
        study_from_config(with_change(lambda c: c["defaults"].update(lr="fast")))
