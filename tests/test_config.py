"""`train.config.load_config`: YAML + dotted overrides -> typed dataclasses, typos fail early."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from train.config import REMOVED_KEYS, Config, ConfigError, dump_yaml, flatten, load_config, to_dict

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "configs" / "default.yaml"
SMOKE = REPO / "configs" / "smoke.yaml"


def test_default_config_is_the_dataclass_defaults():
    """One source of defaults: configs/default.yaml names nothing the dataclasses do not."""
    cfg = load_config(DEFAULT)
    assert cfg == Config()
    assert not (yaml.safe_load(DEFAULT.read_text()) or {})
    assert cfg.model.name == "tf_efficientnet_lite0" and cfg.model.weights == "imagenet"
    assert cfg.output_dir == "runs/default"
    assert cfg.data.manifests == []
    assert 0 <= cfg.verdict.genuine_below < cfg.verdict.counterfeit_above <= 1


CONFIGS = sorted([*REPO.glob("configs/*.yaml"), *REPO.glob("experiments/*/*.yaml")])


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_config_in_the_repository_loads(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    if path.parent.parent.name == "experiments":
        # Experiment configs start from a base and say what differs.
        assert "base" in yaml.safe_load(path.read_text())


def test_a_base_is_read_relative_to_the_file_and_overridden_key_by_key(tmp_path):
    (tmp_path / "bases").mkdir()
    (tmp_path / "bases" / "recipe.yaml").write_text(
        f"base: {DEFAULT}\ntrain:\n  epochs: 6\n  lr: 0.002\ndata:\n  manifests: [a.csv, b.csv]\n")
    (tmp_path / "exp").mkdir()
    child = tmp_path / "exp" / "child.yaml"
    child.write_text("base: ../bases/recipe.yaml\ntrain:\n  epochs: 12\ndata:\n  manifests: [c.csv]\n")
    cfg = load_config(child, ["train.seed=3"])
    assert cfg.train.epochs == 12 and cfg.train.lr == pytest.approx(0.002) and cfg.train.seed == 3
    assert cfg.data.manifests == ["c.csv"]  # a list is replaced, not appended to
    assert cfg.data.synthetic == Config().data.synthetic


def test_a_cycle_of_bases_is_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\ntrain:\n  epochs: 2\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("base: missing.yaml\n")
    with pytest.raises(ConfigError, match="missing.yaml.*not found"):
        load_config(tmp_path / "c.yaml")


@pytest.mark.parametrize("key", sorted(REMOVED_KEYS))
def test_a_removed_key_says_it_was_removed(tmp_path, key):
    section, _, name = key.rpartition(".")
    text = "".join(f"{'  ' * i}{part}:\n" for i, part in enumerate(section.split("."))) + \
        f"{'  ' * (section.count('.') + 1)}{name}: 0\n"
    old = tmp_path / "old.yaml"
    old.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(old)
    assert key in str(info.value) and "removed" in str(info.value) and str(old) in str(info.value)
    with pytest.raises(ConfigError, match=f"{key}.*removed"):
        load_config(DEFAULT, [f"{key}=0"])


def test_no_path_means_default_yaml():
    assert load_config() == load_config(DEFAULT)


def test_smoke_config_loads_and_is_small():
    cfg = load_config(SMOKE)
    assert cfg.output_dir == "runs/smoke"
    assert cfg.train.epochs == 1
    assert cfg.data.synthetic.parcels == 24
    assert cfg.data.image_size == 64
    assert cfg.tracking.preview_images is False
    # Keys absent from smoke.yaml keep the dataclass defaults.
    assert cfg.verdict.pooling == "auto"
    assert cfg.train.weight_decay == pytest.approx(1e-4)


def test_dotted_overrides_change_typed_fields():
    cfg = load_config(
        DEFAULT,
        [
            "train.epochs=3",
            "model.name=resnet18",
            "output_dir=runs/x",
            "data.manifests=[a.csv,b.csv]",
            "train.lr=1e-4",
            "data.synthetic.enabled=false",
        ],
    )
    assert cfg.train.epochs == 3 and isinstance(cfg.train.epochs, int)
    assert cfg.model.name == "resnet18"
    assert cfg.output_dir == "runs/x"
    assert cfg.data.manifests == ["a.csv", "b.csv"]
    assert cfg.train.lr == pytest.approx(1e-4) and isinstance(cfg.train.lr, float)
    assert cfg.data.synthetic.enabled is False
    # Untouched neighbours are kept.
    assert cfg.train.batch_size == 32
    assert cfg.data.synthetic.parcels == load_config(DEFAULT).data.synthetic.parcels


def test_single_manifest_override_becomes_a_list():
    cfg = load_config(DEFAULT, ["data.manifests=shoes/labels.csv:2"])
    assert cfg.data.manifests == ["shoes/labels.csv:2"]


def test_manifest_list_override_with_filters():
    # YAML alone reads `?` in a flow list as a mapping key and fails.
    cfg = load_config(DEFAULT, ["data.manifests=[a/m.csv?view=label, b/m.csv?kind!=thumbnail:2]"])
    assert cfg.data.manifests == ["a/m.csv?view=label", "b/m.csv?kind!=thumbnail:2"]
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(DEFAULT, ["train.lr={a: [1"])


def test_integer_accepted_for_float_field():
    cfg = load_config(DEFAULT, ["train.lr=1"])
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)


def test_scientific_notation_without_dot_is_a_number(tmp_path):
    # PyYAML (YAML 1.1) reads `1e-4` as a string; config files and overrides must accept it.
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("train:\n  lr: 3e-4\n  weight_decay: 1E-5\n")
    cfg = load_config(cfg_file, ["train.warmup_epochs=5e-1"])
    assert cfg.train.lr == pytest.approx(3e-4)
    assert cfg.train.weight_decay == pytest.approx(1e-5)
    assert cfg.train.warmup_epochs == pytest.approx(0.5)


def test_override_later_wins():
    assert load_config(DEFAULT, ["train.epochs=3", "train.epochs=5"]).train.epochs == 5


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError) as info:
        load_config(DEFAULT, ["train.epochs=abc"])
    message = str(info.value)
    assert "train.epochs" in message
    assert "integer" in message and "abc" in message


@pytest.mark.parametrize(
    "override, key",
    [
        ("train.channels_last=maybe", "train.channels_last"),
        ("train.lr=fast", "train.lr"),
        ("train.epochs=2.5", "train.epochs"),
        ("train.epochs=true", "train.epochs"),
        ("data.synthetic.parcels=[1,2]", "data.synthetic.parcels"),
    ],
)
def test_other_wrong_types(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(DEFAULT, [override])


@pytest.mark.parametrize("value", ["0", "-0.5", "1.5"])
def test_train_fraction_outside_zero_one_is_refused(value):
    with pytest.raises(ConfigError, match=r"data\.train_fraction"):
        load_config(DEFAULT, [f"data.train_fraction={value}"])
    assert load_config(DEFAULT, ["data.train_fraction=0.25"]).data.train_fraction == 0.25


def test_unknown_key_names_the_key():
    with pytest.raises(ConfigError) as info:
        load_config(DEFAULT, ["train.epochz=3"])
    message = str(info.value)
    assert "epochz" in message
    assert "epochs" in message  # the known keys are listed, so the typo is obvious


def test_unknown_section_names_the_key():
    with pytest.raises(ConfigError, match="trian"):
        load_config(DEFAULT, ["trian.epochs=3"])


def test_override_into_a_value_is_refused():
    with pytest.raises(ConfigError, match="output_dir"):
        load_config(DEFAULT, ["output_dir.sub=1"])


def test_override_without_equals():
    with pytest.raises(ConfigError, match="key=value"):
        load_config(DEFAULT, ["train.epochs"])


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert str(missing) in str(info.value) and "not found" in str(info.value)


def test_invalid_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [epochs: 3\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_top_level_must_be_mapping(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


def test_empty_yaml_gives_defaults(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(empty) == Config()


def test_file_error_names_file(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  epochs: many\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert str(cfg) in str(info.value) and "train.epochs" in str(info.value)


def test_dump_and_flatten_round_trip(tmp_path):
    cfg = load_config(SMOKE, ["train.epochs=2"])
    dumped = tmp_path / "dump.yaml"
    dumped.write_text(dump_yaml(cfg))
    assert load_config(dumped) == cfg
    flat = flatten(to_dict(cfg))
    assert flat["train.epochs"] == 2
    assert flat["data.synthetic.parcels"] == 24


# --- the command line ------------------------------------------------------------------------


def run_train(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "train", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_help():
    proc = run_train("--help")
    assert proc.returncode == 0, proc.stderr
    assert "python -m train" in proc.stdout
    assert "--config" in proc.stdout
    assert "overrides" in proc.stdout


def test_cli_unknown_key_exits_2_with_clear_message():
    proc = run_train("train.epochz=1")
    assert proc.returncode == 2
    assert "error:" in proc.stderr
    assert "epochz" in proc.stderr
    assert "Traceback" not in proc.stderr
