"""``python -m web.embedded [start|stop] [DIR]`` (``web.embedded.main``): what it does with words it does not know."""

from __future__ import annotations

import pytest

from web import embedded


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """The default folder of the servers, in tmp_path; whatever a wrong answer started there is stopped afterwards."""
    monkeypatch.chdir(tmp_path)  # a DIR taken from the arguments stays inside tmp_path too
    monkeypatch.setenv("EMBEDDED_DATA_DIR", str(tmp_path / "services"))
    yield tmp_path / "services"
    for folder in (tmp_path / "services", tmp_path / "a"):
        if folder.exists():
            embedded.stop(folder)


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["stop", "--help"]])
def test_help_prints_the_usage_and_touches_no_server(args, data_dir, capsys):
    """--help is answered, never taken for a folder to stop or a reason to start the servers."""
    embedded.main(args)
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m web.embedded [start|stop] [DIR]")
    assert "DATABASE_URL" not in out and "stopped" not in out
    assert not data_dir.exists()


@pytest.mark.parametrize("args", [["stpo"], ["start", "a", "b"]])
def test_an_unknown_command_is_refused_with_the_usage(args, data_dir, capsys):
    """A mistyped command exits 2 with the usage rather than starting both servers."""
    with pytest.raises(SystemExit) as exited:
        embedded.main(args)
    assert exited.value.code == 2
    assert "usage: python -m web.embedded" in capsys.readouterr().err
    assert not data_dir.exists() and not (data_dir.parent / "a").exists()
