"""One cell's settings: defaults, round trips, and errors that name the key and the value."""

import dataclasses

import pytest

from rnngrad.core.settings import CellSettings, Clip
from rnngrad.core.validation import SettingsError


def test_defaults_match_design():
    s = CellSettings()
    assert (s.model, s.nonlinearity, s.init, s.hidden, s.dtype, s.task) == (
        "rnn",
        "tanh",
        "gaussian",
        32,
        "float64",
        "adding",
    )
    assert s.clip is None and s.truncate is None and s.penalty is None


def test_round_trip_and_flat():
    s = CellSettings.from_dict(
        {"clip": {"kind": "value", "threshold": 0.1}, "truncate": {"k1": 1, "k2": 5}}
    )
    assert s.clip == Clip("value", 0.1)
    assert CellSettings.from_dict(s.to_dict()) == s
    flat = s.flat()
    assert (
        flat["clip_kind"] == "value" and flat["truncate_k2"] == 5 and flat["penalty_weight"] is None
    )


@pytest.mark.parametrize(
    "values,needle",
    [
        ({"hiden": 3}, "hiden"),
        ({"hidden": 0}, "hidden"),
        ({"hidden": 2.5}, "hidden"),
        ({"w_rec_scale": -1}, "w_rec_scale"),
        ({"w_rec_scale": float("nan")}, "w_rec_scale"),
        ({"lr": 0}, "lr"),
        ({"model": "transformer"}, "model"),
        ({"model": "lstm", "nonlinearity": "relu"}, "nonlinearity"),
        ({"model": "esn", "clip": {"kind": "norm", "threshold": 1}}, "clip"),
        ({"truncate": {"k1": 0, "k2": 3}}, "truncate.k1"),
        ({"clip": {"kind": "norm", "threshold": -1}}, "clip.threshold"),
        ({"clip": {"kind": "norm", "treshold": 1}}, "clip.treshold"),
        ({"penalty": {"kind": "pascanu", "weight": 1}, "model": "gru"}, "penalty.kind"),
        ({"penalty": {"kind": "pascanu_printed", "weight": 1}, "model": "lstm"}, "penalty.kind"),
        ({"penalty": {"kind": "omega", "weight": 1}}, "penalty.kind"),
        ({"task": "temporal_order", "seq_len": 5}, "seq_len"),
        ({"jacobian": "yes"}, "jacobian"),
        ({"eval_every": -1}, "eval_every"),
        ({"stop_when_solved": True}, "stop_when_solved"),
        ({"stop_when_solved": True, "eval_every": 0}, "eval_every"),
        ({"stop_when_solved": "yes", "eval_every": 5}, "stop_when_solved"),
    ],
)
def test_bad_values_name_key_and_value(values, needle):
    with pytest.raises(SettingsError) as e:
        CellSettings.from_dict(values, path="grid.")
    msg = str(e.value)
    assert needle in msg and "value" in msg and msg.startswith("grid.")


def test_replace_revalidates():
    s = CellSettings()
    assert s.replace(hidden=8).hidden == 8
    with pytest.raises(SettingsError):
        s.replace(hidden=-8)


@pytest.mark.parametrize(
    "values,needle",
    [
        # the config schema requires both keys: the same rule for `rnngrad cell clip.kind=norm`
        ({"clip": {"kind": "norm"}}, "clip.threshold: required key is missing"),
        ({"truncate": {"k1": 1}}, "truncate.k2: required key is missing"),
        ({"penalty": {"kind": "l2_wrec"}}, "penalty.weight: required key is missing"),
        # longer than the sequence, truncated BPTT would silently be full BPTT
        ({"seq_len": 10, "truncate": {"k1": 1, "k2": 11}}, "truncate.k2: must be <= the 10"),
        ({"seq_len": 10, "truncate": {"k1": 12, "k2": 5}}, "truncate.k1: must be <= the 10"),
        ({"remedy": "none\n"}, "remedy: must be a name"),
    ],
)
def test_settings_follow_the_config_schemas_rules(values, needle):
    with pytest.raises(SettingsError, match=needle):
        CellSettings.from_dict(values)


def test_truncation_up_to_the_sequence_length_is_accepted():
    s = CellSettings.from_dict({"task": "copy", "seq_len": 10, "truncate": {"k1": 30, "k2": 30}})
    assert s.steps == 30


def test_bounded_value_in_a_message():
    with pytest.raises(SettingsError) as e:
        CellSettings.from_dict({"model": "m" * 100_000})
    assert "model" in str(e.value) and len(str(e.value)) < 500


def test_every_setting_has_a_unit_and_a_meaning_and_the_report_shows_them():
    from rnngrad.core.settings import NESTED, describe
    from rnngrad.report import page

    for cls in (CellSettings, *NESTED.values()):
        for f in dataclasses.fields(cls):
            if f.name != "extra_axes":
                assert f.metadata["unit"] and f.metadata["help"], (cls.__name__, f.name)
    flat = describe()
    assert list(flat) == list(CellSettings().flat())  # one entry per settings column
    assert page.describe_column("clip_threshold") == flat["clip_threshold"]
    assert "empty = no clip" in flat["clip_kind"][1]
