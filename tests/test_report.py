import json

import pytest

from ppl_models.report import headline


def test_headline_prints_and_appends(tmp_path, clean_env, capsys):
    f = tmp_path / "s.jsonl"
    clean_env.setenv("PPL_SUMMARY_FILE", str(f))
    assert headline(nll=91.23456, n=3, tag="ok") is None  # nothing to echo in a notebook
    headline(acc=0.5)
    assert "headline: n=3, nll=91.23, tag=ok" in capsys.readouterr().out
    rows = [json.loads(x) for x in f.read_text().splitlines()]
    assert rows == [{"n": 3, "nll": 91.23, "tag": "ok"}, {"acc": 0.5}]


def test_headline_without_file_only_prints(clean_env, capsys):
    headline(x=1.0)
    assert "x=1.0" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [{"a": float("nan")}, {"a": [1]}, {"a": True}, {}])
def test_headline_bad_input(bad):
    with pytest.raises(ValueError, match="headline"):
        headline(**bad)
