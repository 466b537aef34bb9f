"""The command line: data-source check and parameter parsing."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from xner import config
from xner.cli import _parse_param, main


def test_check_data_without_any_source_stops_with_instructions(monkeypatch, capsys):
    monkeypatch.delenv("XNER_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["check-data"]) == 2
    err = capsys.readouterr().err
    assert "export XNER_DATA_DIR=" in err


def test_check_data_with_setting(fixture_data_dir, capsys):
    assert main(["check-data", "--pair", "id-ms"]) == 0
    assert str(fixture_data_dir) in capsys.readouterr().out


def test_param_values_are_yaml():
    assert _parse_param("epochs=3") == ("epochs", 3)
    assert _parse_param("langs=[id, ms]") == ("langs", ["id", "ms"])
    assert _parse_param("model=e5-small") == ("model", "e5-small")


def test_pairs_listed():
    out = subprocess.run([sys.executable, "-m", "xner.cli", "pairs"], capture_output=True, text=True, check=True).stdout
    assert "id-ms\tstudy\tlocal" in out and "fr-br\tstudy\thub" in out


# ------------------------------------------------------------------ issue 17: bad input is never silent


@pytest.mark.parametrize("value", ["splits=[unclosed", "x=!!python/object/apply:os.system ['true']", "a={b"])
def test_bad_yaml_in_a_parameter_is_a_usage_error(value, capsys):
    """Item 7: a bad -p value stops with the parameter named, not a yaml traceback."""
    with pytest.raises(SystemExit) as exc:
        main(["run", "01", "--pair", "id-ms", "-p", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    name = value.split("=", 1)[0]
    assert f"the value of {name!r} is not valid YAML" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("languages:\n  en: !!python/object/apply:os.system ['true']\npairs: {}\n", "not valid (safe) YAML"),
        ("languages: [en\npairs: {}\n", "not valid (safe) YAML"),
        ("languages:\n  en: English\npairs: {}\n", "language 'en': expected a code mapped to"),
    ],
)
def test_bad_languages_yaml_is_a_config_error(tmp_path, monkeypatch, text, fragment):
    """Item 7: an unsafe tag or a syntax error in languages.yaml is the project's ConfigError naming the file."""
    (tmp_path / "languages.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("XNER_CONFIG_DIR", str(tmp_path))
    config._load.cache_clear()
    with pytest.raises(
        config.ConfigError, match=re.escape(f"{tmp_path / 'languages.yaml'}: ") + ".*" + re.escape(fragment)
    ):
        config.languages()
    config._load.cache_clear()


def test_check_data_checks_the_pairs(fixture_data_dir, tmp_path, monkeypatch, capsys):
    """Item 3: check-data reports where every split of the named pairs comes from, and fails on a gap."""
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["check-data", "--pair", "id-ms"]) == 0
    assert "id: data setting (3/3 splits; pairs id-ms)" in capsys.readouterr().out
    wf = tmp_path / "wf.yaml"
    wf.write_text("pairs: [id-ms, nl-af]\n", encoding="utf-8")
    assert main(["check-data", "--config", str(wf)]) == 2
    assert "nl is marked local" in capsys.readouterr().err
    assert main(["check-data"]) == 2  # every configured pair: most languages are not in the fixture folder


def test_figures_follow_a_moved_results_root(tmp_path, monkeypatch):
    """Item 10: setting only XNER_RESULTS_DIR keeps figures out of the repository; XNER_FIGURES_DIR wins."""
    monkeypatch.delenv("XNER_FIGURES_DIR", raising=False)
    monkeypatch.delenv("XNER_RESULTS_DIR", raising=False)
    assert config.figures_dir() == config.repo_root() / "figures"
    monkeypatch.setenv("XNER_RESULTS_DIR", str(tmp_path / "res"))
    assert config.figures_dir() == tmp_path / "res" / "figures"
    assert config.figures_dir(tmp_path / "other") == tmp_path / "other" / "figures"
    monkeypatch.setenv("XNER_FIGURES_DIR", str(tmp_path / "figs"))
    assert config.figures_dir() == config.figures_dir(tmp_path / "other") == tmp_path / "figs"


def test_readme_documents_the_figures_setting():
    readme = (config.repo_root() / "README.md").read_text(encoding="utf-8")
    assert "XNER_FIGURES_DIR" in readme
