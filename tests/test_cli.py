"""The command line: data-source check and parameter parsing."""

from __future__ import annotations

import subprocess
import sys

from xner.cli import _parse_param, main


def test_check_data_without_any_source_stops_with_instructions(monkeypatch, capsys):
    monkeypatch.delenv("XNER_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["check-data"]) == 2
    err = capsys.readouterr().err
    assert "export XNER_DATA_DIR=" in err


def test_check_data_with_setting(fixture_data_dir, capsys):
    assert main(["check-data"]) == 0
    assert str(fixture_data_dir) in capsys.readouterr().out


def test_param_values_are_yaml():
    assert _parse_param("epochs=3") == ("epochs", 3)
    assert _parse_param("langs=[id, ms]") == ("langs", ["id", "ms"])
    assert _parse_param("model=e5-small") == ("model", "e5-small")


def test_pairs_listed():
    out = subprocess.run([sys.executable, "-m", "xner.cli", "pairs"], capture_output=True, text=True, check=True).stdout
    assert "id-ms\tstudy\tlocal" in out and "fr-br\tstudy\thub" in out
